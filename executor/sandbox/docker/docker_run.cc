// DockerSandbox::run: one sub-stage script, exec'd in the job container with its
// output streamed as it arrives.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/cancel.h"
#include "docker/tar.h"
#include "sandbox/docker/docker_sandbox.h"
#include "sandbox/docker/scripts.h"

namespace phaedo::sandbox::docker {
namespace {

namespace api = phaedo::docker;
using namespace std::chrono_literals;

// Writes all of `bytes` to `fd` (our stdout or stderr, the runner's job log).
Status write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorKind::io, "cannot write the job's output: " + std::string(std::strerror(errno)));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::string> read_script(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorKind::not_found, "script " + path + " cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A name for this call's directory, unique across the sub-stages of a job.
std::string call_id() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch());
  return std::to_string(::getpid()) + "-" + std::to_string(ns.count());
}

// The builds volume is writable even with a read-only root filesystem, and
// removed with the job: scripts (which hold the job's variables) go there.
Status upload_script(api::Client& docker, const std::string& container, const std::string& builds_dir,
                     const std::string& rel_dir, std::string content) {
  api::TarWriter tar;
  if (auto s = tar.add({".phaedo", api::EntryType::directory, "", 0755, 0, 0, 0}); !s) return s;
  if (auto s = tar.add({rel_dir, api::EntryType::directory, "", 0755, 0, 0, 0}); !s) return s;
  if (auto s = tar.add({rel_dir + "/script", api::EntryType::file, std::move(content), 0755, 0, 0, 0}); !s) return s;
  std::string bytes = std::move(tar).finish();
  auto size = bytes.size();
  return docker.upload_archive(container, builds_dir, transport::body_from_string(std::move(bytes)), size);
}

std::string tenths(std::chrono::milliseconds grace) { return std::to_string((grace.count() + 99) / 100); }

}  // namespace

bool DockerSandbox::oom_killed(api::Client& docker, const std::string& container) {
  std::string text;
  api::ExecSpec spec;
  spec.cmd = {"sh", "-c", scripts::kOomScript};
  auto info = docker.exec(container, spec, {[&](std::string_view b) {
                                              text += b;
                                              return Status{};
                                            },
                                            {}},
                          10s);
  if (!info) return false;
  auto at = text.find("oom_kill ");
  return at != std::string::npos && std::atol(text.c_str() + at + 9) > 0;
}

void DockerSandbox::stop_processes(const std::string& container, const std::string& dir) {
  scope_.log.job(log::Level::info,
                 "stopping the job's processes (signal " + std::to_string(CancelToken::signal_number()) + ")");
  auto docker = client(Cancellable::no);
  if (!docker) {
    scope_.log.job(log::Level::error, docker.error().message);
    return;
  }
  api::ExecSpec spec;
  spec.cmd = {"sh", "-c", scripts::kStopScript, "phaedo-stop", dir, tenths(scope_.profile.kill_grace)};
  auto info = (*docker)->exec(container, spec, {}, scope_.profile.kill_grace + 5s);
  if (!info) scope_.log.job(log::Level::error, "could not stop the job's processes: " + info.error().message);
}

protocol::Outcome DockerSandbox::run(const std::string& script, const std::string& stage) {
  const auto& d = scope_.profile.docker;
  if (script.size() >= 4 && script.compare(script.size() - 4, 4, ".ps1") == 0) {
    return protocol::SystemFailure{make_error(ErrorKind::invalid_input,
                                              "PowerShell scripts are not supported: set shell = \"bash\" or \"sh\"")};
  }
  auto content = read_script(script);
  if (!content) return protocol::SystemFailure{content.error()};
  auto docker = client(Cancellable::yes);
  if (!docker) return protocol::SystemFailure{docker.error()};
  auto& api_client = **docker;

  auto info = api_client.inspect_container(names_.container);
  if (!info) {
    if (info.error().kind == ErrorKind::not_found) {
      return protocol::SystemFailure{
          make_error(ErrorKind::not_found, "job " + names_.key + " is not prepared (no container " + names_.container + ")")};
    }
    return protocol::SystemFailure{info.error()};
  }
  if (!info->state.running) {
    return protocol::SystemFailure{make_error(
        ErrorKind::peer, "job container " + names_.container + " is not running (" + info->state.status + ")")};
  }

  const std::string rel_dir = ".phaedo/" + call_id();
  const std::string dir = d.builds_dir + "/" + rel_dir;
  if (auto s = upload_script(api_client, names_.container, d.builds_dir, rel_dir, std::move(*content)); !s) {
    return protocol::SystemFailure{s.error()};
  }

  api::ExecSpec spec;
  spec.cmd = {"sh", "-c", scripts::kRunScript, "phaedo-run", profile::to_string(scope_.profile.shell),
              dir + "/script", dir, tenths(scope_.profile.kill_grace),
              d.runner_binary.empty() ? "" : scripts::kRunnerBinaryDir};
  spec.working_dir = d.builds_dir;
  auto exec_id = api_client.create_exec(names_.container, spec);
  if (!exec_id) return protocol::SystemFailure{exec_id.error()};
  scope_.log.admin(log::Level::info, "started sub-stage", {{"sub_stage", stage}, {"exec", *exec_id}});

  api::OutputSinks sinks{[](std::string_view b) { return write_all(STDOUT_FILENO, b); },
                         [](std::string_view b) { return write_all(STDERR_FILENO, b); }};
  Status streamed = api_client.start_exec(*exec_id, api::Tty::off, sinks);
  if (CancelToken::requested()) {
    stop_processes(names_.container, dir);
    scope_.log.admin(log::Level::info, "finished sub-stage", {{"sub_stage", stage}, {"cancelled", "true"}});
    return protocol::BuildFailure{128 + (CancelToken::signal_number() > 0 ? CancelToken::signal_number() : 15),
                                  "stopped on request"};
  }
  if (!streamed) return protocol::SystemFailure{streamed.error()};

  // The stream ends when the process closes its output; the daemon records the
  // exit a moment later.
  std::optional<int> code;
  for (int attempt = 0; attempt < 100 && !code; ++attempt) {
    auto exec = api_client.inspect_exec(*exec_id);
    if (!exec) return protocol::SystemFailure{exec.error()};
    if (!exec->running && exec->exit_code) code = *exec->exit_code;
    else std::this_thread::sleep_for(50ms);
  }
  if (!code) {
    return protocol::SystemFailure{
        make_error(ErrorKind::peer, "docker: exec " + *exec_id + ": output ended but no exit code was recorded")};
  }
  scope_.log.admin(log::Level::info, "finished sub-stage", {{"sub_stage", stage}, {"exit_code", std::to_string(*code)}});
  if (*code == 0) return protocol::Success{};
  protocol::BuildFailure failure{*code, ""};
  if (*code == 137 && d.memory_bytes && oom_killed(api_client, names_.container)) {
    failure.reason = "ran out of memory (the container's limit is " + std::to_string(*d.memory_bytes >> 20) + " MiB)";
  } else if (*code > 128) {
    failure.reason = "killed by signal " + std::to_string(*code - 128);
  }
  return failure;
}

}  // namespace phaedo::sandbox::docker
