// Subcommands of the `vkcls` tool. Each returns the process exit code
// (0 ok, 1 some inputs failed, 2 usage or model error).
#pragma once

namespace vkcls::cli {

int cmd_info(int argc, char** argv);      // tools/cmd_info.cpp
int cmd_tokenize(int argc, char** argv);  // tools/cmd_tokenize.cpp
int cmd_demo(int argc, char** argv);      // tools/cmd_demo.cpp

}  // namespace vkcls::cli
