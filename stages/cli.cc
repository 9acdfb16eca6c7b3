#include "cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "core/cancel.h"
#include "core/environment.h"
#include "protocol/outcome.h"
#include "stages/context.h"

namespace phaedo::cli {

int stage_main(int argc, char** argv, const std::string& name, const std::string& description,
               const std::vector<std::string>& positional_names,
               const std::function<int(const StageArgs&)>& body) {
  const int system_failure = protocol::ExitCodes::from(Environment::from_process()).system_failure;
  try {
    CLI::App app{description, name};
    app.set_version_flag("--version", std::string(name) + " (phaedo-executor) " + stages::driver_version());
    StageArgs args;
    app.add_option("--profile", args.profile, "driver profile (TOML)")->required();
    args.positional.resize(positional_names.size());
    for (size_t i = 0; i < positional_names.size(); ++i) {
      app.add_option(positional_names[i], args.positional[i], positional_names[i])->required();
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
      std::cerr << "phaedo: error: " << name << ": " << e.what() << " (see --help)" << std::endl;
      return system_failure;
    }
    if (auto s = CancelToken::install(); !s) {
      std::cerr << "phaedo: error: " << s.error().message << std::endl;
      return system_failure;
    }
    return body(args);
  } catch (const std::exception& e) {
    std::cerr << "phaedo: error: " << name << ": unexpected error: " << e.what() << std::endl;
  } catch (...) {
    std::cerr << "phaedo: error: " << name << ": unexpected error" << std::endl;
  }
  return system_failure;
}

}  // namespace phaedo::cli
