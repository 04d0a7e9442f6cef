// vkcls info: the devices the loader lists, the one vkcls would pick and why,
// and what it can do. --json for machines.
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/context.h"
#include "shaders/shader_registry.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace vkcls::cli {

int cmd_info(int argc, char** argv) {
  Args args("info", "List Vulkan devices, the one vkcls picks (and why) and its features and limits.");
  args.flag("json", "print JSON instead of text");
  args.option("device", "", "device index to report as chosen (also VKCLS_DEVICE)");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  int requested = args.has("device") ? int(args.get_int("device")) : int(env_int("VKCLS_DEVICE", -1));
  std::vector<DeviceInfo> devices = list_devices();
  std::string why;
  int chosen = choose_device(devices, requested, &why);

  if (args.has("json")) {
    nlohmann::json j;
    j["version"] = VKCLS_VERSION;
    j["devices"] = nlohmann::json::array();
    for (auto& d : devices) j["devices"].push_back(d.to_json());
    j["chosen"] = chosen;
    j["reason"] = why;
    j["shaders"] = shader_all().size();
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("vkcls %s, %zu embedded shaders\n%zu Vulkan device(s):\n", VKCLS_VERSION, shader_all().size(),
              devices.size());
  for (auto& d : devices) std::fputs(d.to_text().c_str(), stdout);
  std::printf("chosen: [%d] %s (%s)\n", chosen, devices[chosen].name.c_str(), why.c_str());
  return 0;
}

}  // namespace vkcls::cli
