#include "tools/args.h"

#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>

namespace vkcls::cli {

void Args::option(const std::string& name, const std::string& def, const std::string& help) {
  order_.push_back(name);
  opts_[name] = {def, help, false};
}

void Args::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  opts_[name] = {"", help, true};
}

bool Args::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      positionals_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = opts_.find(name);
    if (it == opts_.end()) {
      std::fprintf(stderr, "vkcls %s: unknown option --%s (see vkcls %s --help)\n", command_.c_str(), name.c_str(),
                   command_.c_str());
      return false;
    }
    if (it->second.is_flag) {
      if (inline_value) {
        std::fprintf(stderr, "vkcls %s: --%s takes no value\n", command_.c_str(), name.c_str());
        return false;
      }
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "vkcls %s: --%s needs a value\n", command_.c_str(), name.c_str());
        return false;
      }
      value = argv[++i];
    }
    values_[name] = value;
  }
  return true;
}

std::string Args::help() const {
  std::string s = fmt::format("usage: vkcls {} [options]\n{}\n\noptions:\n", command_, summary_);
  for (const auto& name : order_) {
    const Opt& o = opts_.at(name);
    std::string left = o.is_flag ? "--" + name : "--" + name + " VALUE";
    std::string def = o.is_flag ? "" : o.def.empty() ? " (default: none)" : " (default: " + o.def + ")";
    s += fmt::format("  {:<26} {}{}\n", left, o.help, def);
  }
  s += fmt::format("  {:<26} {}\n", "--help", "show this help");
  return s;
}

std::string Args::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  return opts_.at(name).def;
}

long Args::get_int(const std::string& name) const {
  std::string v = get(name);
  try {
    size_t used = 0;
    long x = std::stol(v, &used);
    if (used != v.size()) throw std::invalid_argument("");
    return x;
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("--{} must be an integer, got '{}'", name, v));
  }
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

}  // namespace vkcls::cli
