// phaedo-config --profile FILE: prints the config JSON for gitlab-runner's config_exec.
#include <iostream>

#include "cli.h"
#include "stages/stages.h"

int main(int argc, char** argv) {
  return phaedo::cli::stage_main(argc, argv, "phaedo-config", "GitLab Runner config_exec stage", {},
                                 [](const phaedo::cli::StageArgs& a) {
                                   return phaedo::stages::config(phaedo::Environment::from_process(), a.profile,
                                                                 std::cout);
                                 });
}
