// phaedo-dockerscope as a library call: assemble the daemon client, the image
// record, the gate and the server from options, serve until SIGTERM or SIGINT.
//
// Why one process per job rather than one host service with a socket per job:
//  * the scope is fixed at start from the job's own profile and identity, so no
//    request can ever be judged against another job's scope (no socket→job map
//    to get wrong, no registration API for a job to attack);
//  * a crash or a hang affects one job, and its cost (a few MB, threads only
//    while connections are open) is paid only while the job runs;
//  * its lifetime is a journaled object like the job's container: prepare starts
//    it and records its pid, cleanup stops it, and a reaper finds it by pid file;
//  * nothing new has to be installed, supervised or upgraded on the runner host.
// The shared state that matters — the daemon's layer cache — is the daemon's.
#pragma once

#include <sys/types.h>

#include <string>

#include "dockerscope/scope.h"

namespace phaedo::dockerscope {

struct ServiceOptions {
  std::string socket_path;
  mode_t socket_mode = 0660;
  std::string upstream_socket = "/var/run/docker.sock";
  std::string image_record;  // state file of the job's images; empty: memory only
  std::string log_file;      // admin log (JSON lines); empty: none
  Scope scope;
};

// Returns the process exit code: 0 after a clean stop, 1 when it could not start.
int run_service(const ServiceOptions& options);

}  // namespace phaedo::dockerscope
