// phaedo-cleanup --profile FILE: removes everything the job created (cleanup_exec).
#include "cli.h"
#include "stages/stages.h"

int main(int argc, char** argv) {
  return phaedo::cli::stage_main(argc, argv, "phaedo-cleanup", "GitLab Runner cleanup_exec stage", {},
                                 [](const phaedo::cli::StageArgs& a) {
                                   return phaedo::stages::cleanup(phaedo::Environment::from_process(), a.profile);
                                 });
}
