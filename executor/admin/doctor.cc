// admin::doctor: the checks an administrator runs after installing or changing a profile.
#include <unistd.h>

#include <filesystem>

#include "admin/admin.h"
#include "docker/client.h"
#include "journal/atomic_file.h"
#include "lease/lease.h"
#include "process/cgroup.h"
#include "sandbox/docker/job_cgroup.h"
#include "transport/curl_http_client.h"

namespace phaedo::admin {
namespace {

namespace fs = std::filesystem;

Check state_dir_writable(const profile::Profile& p) {
  std::error_code ec;
  fs::create_directories(p.state_dir, ec);
  std::string probe = p.state_dir + "/.doctor-probe";
  auto s = journal::write_file_atomically(probe, "ok\n");
  fs::remove(probe, ec);
  return {"state_dir", s.ok(), s.ok() ? p.state_dir + " is writable" : s.error().message};
}

Check shell_present(const profile::Profile& p, const Environment& env) {
  std::string name = profile::to_string(p.shell);
  if (p.sandbox == profile::SandboxKind::docker) {
    return {"shell", true, name + " (must exist in the job images)"};
  }
  std::string path = p.host.path.empty() ? env.get_or("PATH", "/usr/bin:/bin") : p.host.path;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    std::string candidate = path.substr(start, end == std::string::npos ? std::string::npos : end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return {"shell", true, candidate};
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return {"shell", false, name + " not found on PATH " + path};
}

Check cgroup_usable(const profile::Profile& p) {
  if (p.host.cgroup == profile::CgroupMode::off) return {"cgroup", true, "disabled (host.cgroup = \"off\")"};
  bool ok = process::Cgroup::available(p.host.cgroup_root);
  if (ok) return {"cgroup", true, p.host.cgroup_root + " is writable"};
  bool required = p.host.cgroup == profile::CgroupMode::required;
  return {"cgroup", !required,
          p.host.cgroup_root + " is not a writable cgroup v1 pids hierarchy" +
              (required ? "" : ": jobs are tracked by process group only (daemonised children can escape)")};
}

// The daemon check, and with it whether the job's limits can hold for the sum of
// its containers (sandbox/docker/job_cgroup.h).
std::vector<Check> docker_checks(const profile::Profile& p) {
  auto http = transport::CurlHttpClient::create({transport::UnixSocketEndpoint{p.docker.socket}});
  if (!http) return {{"docker", false, http.error().message}};
  auto client = docker::Client::connect(**http);
  if (!client) return {{"docker", false, "docker.socket " + p.docker.socket + ": " + client.error().message}};
  std::vector<Check> checks{
      {"docker", true, p.docker.socket + " answers, API " + client->api_version().str() + ", engine " + client->daemon().version}};
  const auto mode = p.docker.job_cgroup;
  if (mode == profile::CgroupMode::off) {
    checks.push_back({"job_cgroup", true, "off: each container is limited alone"});
    return checks;
  }
  auto info = client->system_info();
  if (!info) {
    checks.push_back({"job_cgroup", false, "GET /info: " + info.error().message});
    return checks;
  }
  const sandbox::docker::JobCgroup probe(sandbox::docker::kCgroupMount, "<job>");
  if (auto why = probe.applicable(*info)) {
    const bool required = mode == profile::CgroupMode::required;
    checks.push_back({"job_cgroup", !required,
                      (required ? "required but " : "not available, each container is limited alone: ") + *why});
  } else {
    checks.push_back({"job_cgroup", true,
                      "limits hold for the sum of a job's containers (" + std::string(sandbox::docker::kCgroupMount) +
                          "/{memory,cpu,pids}" + probe.docker_parent() + ")"});
  }
  return checks;
}

}  // namespace

std::vector<Check> doctor(const profile::Profile& p, const Environment& env) {
  std::vector<Check> checks;
  checks.push_back({"profile", true, p.source + " (sandbox " + profile::to_string(p.sandbox) + ", lease " +
                                         profile::to_string(p.lease) + ")"});
  checks.push_back(state_dir_writable(p));
  checks.push_back(shell_present(p, env));
  if (p.sandbox == profile::SandboxKind::host) checks.push_back(cgroup_usable(p));
  if (p.sandbox == profile::SandboxKind::docker) {
    for (Check& c : docker_checks(p)) checks.push_back(std::move(c));
  }
  if (p.lease == profile::LeaseKind::kubernetes_node) {
    auto k = lease::check(p.kubernetes);
    checks.push_back({"kubernetes", k.ok(), k ? *k : k.error().message});
  }
  return checks;
}

}  // namespace phaedo::admin
