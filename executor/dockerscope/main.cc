// phaedo-dockerscope: the scoped Docker API of one job (see service.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "dockerscope/service.h"

int main(int argc, char** argv) {
  using phaedo::dockerscope::ServiceOptions;
  try {
    ServiceOptions o;
    std::string mode = "0660";
    std::vector<std::string> caps;
    std::int64_t memory = 0, memory_swap = 0, nano_cpus = 0, pids = 0;
    CLI::App app{"The scoped Docker API of one job: a per-job socket in front of the host daemon"};
    app.add_option("--socket", o.socket_path, "Unix socket to serve the job on")->required();
    app.add_option("--socket-mode", mode, "Octal mode of the socket (the job container's user must connect)");
    app.add_option("--upstream", o.upstream_socket, "The host daemon's socket");
    app.add_option("--job", o.scope.job_key, "Job key r<runner>-j<job>: the ownership label's value")->required();
    app.add_option("--runner", o.scope.runner_id, "Runner id")->required();
    app.add_option("--network", o.scope.network, "The job's network: containers asking for the default join it");
    app.add_option("--memory", memory, "The job's memory limit in bytes (0: none)");
    app.add_option("--memory-swap", memory_swap, "The job's memory+swap limit in bytes (0: same as --memory)");
    app.add_option("--nano-cpus", nano_cpus, "The job's CPU limit in billionths of a CPU (0: none)");
    app.add_option("--pids", pids, "The job's pids limit per container (0: none)");
    app.add_option("--cgroup-parent", o.scope.cgroup_parent,
                   "The job's cgroup (cgroupfs path): parent of every container and build the job starts");
    app.add_option("--cap-allow", caps, "Capabilities a container may add (replaces Docker's default set)");
    app.add_option("--images", o.image_record, "State file of the images the job builds or tags");
    app.add_option("--log-file", o.log_file, "Admin log (JSON lines)");
    CLI11_PARSE(app, argc, argv);

    o.socket_mode = static_cast<mode_t>(std::stoul(mode, nullptr, 8));
    if (memory > 0) o.scope.limits.memory_bytes = memory;
    if (memory_swap > 0) o.scope.limits.memory_swap_bytes = memory_swap;
    if (nano_cpus > 0) o.scope.limits.nano_cpus = nano_cpus;
    if (pids > 0) o.scope.limits.pids = pids;
    if (!caps.empty()) {
      o.scope.cap_allow.clear();
      for (std::string cap : caps) {
        for (char& c : cap) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        o.scope.cap_allow.insert(cap.rfind("CAP_", 0) == 0 ? cap.substr(4) : cap);
      }
    }
    return phaedo::dockerscope::run_service(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phaedo-dockerscope: error: %s\n", e.what());
    return 1;
  }
}
