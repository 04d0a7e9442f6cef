// A small command-line parser: --name value, --name=value, --flag, positionals.
// Every option is declared with its default and help, so --help lists them all.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace vkcls::cli {

class Args {
 public:
  Args(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}
  void option(const std::string& name, const std::string& def, const std::string& help);  // takes a value
  void flag(const std::string& name, const std::string& help);                           // no value
  // Parses argv (argv[0] is the command name). Returns false and prints the error on bad usage.
  bool parse(int argc, char** argv);
  bool help_requested() const { return help_; }
  std::string help() const;

  std::string get(const std::string& name) const;
  long get_int(const std::string& name) const;  // throws std::invalid_argument naming the option
  bool has(const std::string& name) const;      // flag given, or option given explicitly
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  struct Opt {
    std::string def, help;
    bool is_flag;
  };
  std::string command_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Opt> opts_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  bool help_ = false;
};

}  // namespace vkcls::cli
