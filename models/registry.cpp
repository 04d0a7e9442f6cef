#include "models/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vkcls/types.h"

namespace vkcls {

// One factory per family file.
std::unique_ptr<ModelRunner> make_bert(const RunnerArgs& a);        // models/bert.cpp
std::unique_ptr<ModelRunner> make_modernbert(const RunnerArgs& a);  // models/modernbert.cpp
std::unique_ptr<ModelRunner> make_gte(const RunnerArgs& a);         // models/gte.cpp

namespace {

using Factory = std::unique_ptr<ModelRunner> (*)(const RunnerArgs&);
struct Family {
  const char* model_type;
  Factory make;
};

const Family kFamilies[] = {
    {"bert", make_bert},      {"roberta", make_bert}, {"xlm-roberta", make_bert},
    {"camembert", make_bert}, {"ernie", make_bert},   {"distilbert", make_bert},
    {"electra", make_bert},   {"modernbert", make_modernbert}, {"new", make_gte},
};

}  // namespace

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const Family& f : kFamilies) out.push_back(f.model_type);
  return out;
}

std::unique_ptr<ModelRunner> create_runner(const RunnerArgs& a) {
  for (const Family& f : kFamilies)
    if (a.cfg.model_type == f.model_type) return f.make(a);
  throw Error(ErrorKind::model,
              fmt::format("config.json model_type '{}' is not an architecture vkcls runs ({})",
                          a.cfg.model_type, fmt::join(supported_model_types(), ", ")));
}

}  // namespace vkcls
