// Subcommands of the `vkcls` tool. Each returns the process exit code
// (0 ok, 1 some inputs failed, 2 usage or model error).
#pragma once

namespace vkcls::cli {

int cmd_info(int argc, char** argv);      // tools/cmd_info.cpp
int cmd_tokenize(int argc, char** argv);  // tools/cmd_tokenize.cpp
int cmd_demo(int argc, char** argv);      // tools/cmd_demo.cpp
int cmd_classify(int argc, char** argv);        // tools/cmd_classify.cpp
int cmd_token_classify(int argc, char** argv);  // tools/cmd_token_classify.cpp
int cmd_score(int argc, char** argv);           // tools/cmd_score.cpp
int cmd_embed(int argc, char** argv);           // tools/cmd_embed.cpp
int cmd_serve(int argc, char** argv);           // tools/cmd_serve.cpp
int cmd_bench(int argc, char** argv);           // tools/cmd_bench.cpp

}  // namespace vkcls::cli
