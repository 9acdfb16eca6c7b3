// phaedo-prepare --profile FILE: creates the job's sandbox (prepare_exec).
#include "cli.h"
#include "stages/stages.h"

int main(int argc, char** argv) {
  return phaedo::cli::stage_main(argc, argv, "phaedo-prepare", "GitLab Runner prepare_exec stage", {},
                                 [](const phaedo::cli::StageArgs& a) {
                                   return phaedo::stages::prepare(phaedo::Environment::from_process(), a.profile);
                                 });
}
