// phaedo-run --profile FILE SCRIPT SUB_STAGE: runs one sub-stage script (run_exec).
#include "cli.h"
#include "stages/stages.h"

int main(int argc, char** argv) {
  return phaedo::cli::stage_main(argc, argv, "phaedo-run", "GitLab Runner run_exec stage", {"script", "sub_stage"},
                                 [](const phaedo::cli::StageArgs& a) {
                                   return phaedo::stages::run(phaedo::Environment::from_process(), a.profile,
                                                              a.positional[0], a.positional[1]);
                                 });
}
