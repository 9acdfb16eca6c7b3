// DockerSandbox::prepare: network, builds volume and the hardened job container,
// each journaled before it is created.
#include <sys/stat.h>

#include <chrono>

#include "core/cancel.h"
#include "protocol/job_response.h"
#include "sandbox/docker/docker_sandbox.h"
#include "sandbox/docker/image_policy.h"
#include "sandbox/docker/job_cgroup.h"
#include "sandbox/docker/registry.h"
#include "sandbox/docker/scope_proxy.h"
#include "sandbox/docker/scripts.h"

namespace phaedo::sandbox::docker {
namespace {

namespace api = phaedo::docker;

// Objects outlive a crashed runner by at most the job's timeout plus this margin;
// reapers may remove them afterwards.
constexpr long long kExpiryMarginSeconds = 15 * 60;
constexpr long long kDefaultTimeoutSeconds = 60 * 60;

long long unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Status DockerSandbox::ensure_image(api::Client& docker, const protocol::JobResponse& job, const std::string& image) {
  auto policy = scope_.profile.docker.pull_policy;
  if (policy != profile::PullPolicy::always) {
    auto found = docker.inspect_image(image);
    if (found) return {};
    if (found.error().kind != ErrorKind::not_found) return found.error();
    if (policy == profile::PullPolicy::never) {
      return make_error(ErrorKind::not_found,
                        "image \"" + image + "\" is not present on the Docker host and docker.pull_policy is \"never\"");
    }
  }
  const ImageRef ref = parse_image_ref(image);
  auto auth = find_registry_auth(ref.registry, job, scope_.profile.docker);
  if (!auth) return auth.error();
  if (*auth) scope_.log.redactor().add((*auth)->password);
  scope_.log.job(log::Level::info, "pulling image " + image + (*auth ? " with credentials from " + (*auth)->source : ""));
  return pull_image(*http_, "/v" + docker.api_version().str(), ref, *auth, [] { return CancelToken::requested(); });
}

Status DockerSandbox::create_job_cgroup(api::Client& docker, journal::Journal& journal) {
  const auto& d = scope_.profile.docker;
  const JobCgroupLimits limits{d.memory_bytes, d.cpus, d.pids_limit};
  if (d.job_cgroup == profile::CgroupMode::off || !limits.any()) return {};
  JobCgroup cgroup(kCgroupMount, names_.key);
  auto info = docker.system_info();
  if (!info) return info.error();
  if (auto why = cgroup.applicable(*info)) {
    if (d.job_cgroup == profile::CgroupMode::required) {
      return make_error(ErrorKind::invalid_input, "docker.job_cgroup = \"required\" but " + *why);
    }
    scope_.log.job(log::Level::info, "limits apply to each container, not to their sum: " + *why);
    return {};
  }
  if (auto s = journal.intend(kCgroupKind, names_.key); !s) return s;
  if (auto s = cgroup.create(limits); !s) return s.error().context("job cgroup: ");
  if (auto s = journal.created(kCgroupKind, names_.key); !s) return s;
  cgroup_parent_ = cgroup.docker_parent();
  scope_.log.admin(log::Level::info, "created the job's cgroup", {{"cgroup_parent", cgroup_parent_}});
  return {};
}

Status DockerSandbox::create_network(api::Client& docker, journal::Journal& journal, long long expires) {
  if (auto s = journal.intend(kNetworkKind, names_.network); !s) return s;
  api::NetworkSpec spec;
  spec.name = names_.network;
  spec.labels = names_.labels(expires);
  if (auto id = docker.create_network(spec); !id) return id.error();
  return journal.created(kNetworkKind, names_.network);
}

Status DockerSandbox::create_volume(api::Client& docker, journal::Journal& journal, long long expires) {
  if (auto s = journal.intend(kVolumeKind, names_.volume); !s) return s;
  api::VolumeSpec spec;
  spec.name = names_.volume;
  spec.labels = names_.labels(expires);
  if (auto v = docker.create_volume(spec); !v) return v.error();
  const auto& cache = scope_.profile.docker.cache_volume;
  if (!cache.empty()) {  // shared and long-lived: created on demand, never journaled
    api::VolumeSpec shared;
    shared.name = cache;
    shared.labels = {{kCacheLabel, cache}};
    if (auto v = docker.create_volume(shared); !v) return v.error();
  }
  return journal.created(kVolumeKind, names_.volume);
}

api::ContainerSpec DockerSandbox::container_spec(const std::string& image, long long expires) const {
  const auto& d = scope_.profile.docker;
  api::ContainerSpec spec;
  spec.name = names_.container;
  spec.image = image;
  spec.entrypoint = std::vector<std::string>{};
  spec.cmd = {"sh", "-c", scripts::kInitScript};
  spec.working_dir = d.builds_dir;
  spec.hostname = names_.container;
  spec.labels = names_.labels(expires);
  auto& h = spec.host;
  h.network_mode = names_.network;
  h.mounts.push_back(api::Mount{api::MountType::volume, names_.volume, d.builds_dir, api::Access::read_write, {}, {}});
  if (!d.cache_volume.empty()) {
    h.mounts.push_back(api::Mount{api::MountType::volume, d.cache_volume, d.cache_dir, api::Access::read_write, {}, {}});
  }
  if (!d.runner_binary.empty()) {
    h.mounts.push_back(api::Mount{api::MountType::bind, d.runner_binary, scripts::kRunnerBinaryPath,
                                  api::Access::read_only, {}, {}});
  }
  if (d.api == profile::DockerApi::scoped) {  // the job's Docker API (scope_proxy.h)
    ScopeProxy proxy(scope_, names_);
    h.mounts.push_back(
        api::Mount{api::MountType::bind, proxy.paths().sock_dir, d.api_socket_dir, api::Access::read_write, {}, {}});
    // The container's env reaches every script (docker exec inherits it); job_env
    // only reaches the stage programs. The scoped API serves the legacy builder only.
    spec.env = {"DOCKER_HOST=" + proxy.docker_host(), "DOCKER_BUILDKIT=0"};
  }
  harden(h);
  h.init = api::Init::none;  // kInitScript reaps orphans itself
  return spec;
}

void DockerSandbox::harden(api::HostConfig& h) const {
  const auto& d = scope_.profile.docker;
  if (d.memory_bytes) {
    h.memory_bytes = *d.memory_bytes;
    h.memory_swap_bytes = *d.memory_bytes;  // no swap on top of the limit
  }
  if (d.cpus) h.nano_cpus = static_cast<std::int64_t>(*d.cpus * 1e9);
  if (d.pids_limit) h.pids_limit = *d.pids_limit;
  h.cgroup_parent = cgroup_parent_;
  h.cap_drop = {"ALL"};
  h.cap_add = d.cap_add;
  h.security_opt = {"no-new-privileges"};
  if (d.read_only_rootfs) {
    h.rootfs = api::RootFs::read_only;
    h.tmpfs["/tmp"] = "rw,nosuid,nodev,size=256m";
  }
}

Status DockerSandbox::create_services(api::Client& docker, journal::Journal& journal,
                                      const std::vector<ServiceRequest>& services, long long expires) {
  for (std::size_t i = 0; i < services.size(); ++i) {
    const auto& service = services[i];
    const std::string name = names_.service(i);
    if (auto s = journal.intend(kServiceKind, name, {{"image", service.image}}); !s) return s;
    api::ContainerSpec spec;
    spec.name = name;
    spec.image = service.image;
    spec.entrypoint = service.entrypoint;
    spec.cmd = service.command;
    spec.labels = names_.labels(expires);
    spec.host.network_mode = names_.network;
    spec.network_aliases = service.aliases;
    harden(spec.host);
    spec.host.init = api::Init::none;  // the image's own PID 1, as in GitLab's Docker executor
    auto created = docker.create_container(spec);
    if (!created) return created.error().context("service " + service.image + ": ");
    if (auto s = journal.created(kServiceKind, name); !s) return s;
    if (auto s = docker.start_container(name); !s) return s.error().context("service " + service.image + ": ");
    std::string aliases;
    for (const auto& a : service.aliases) aliases += (aliases.empty() ? "" : ", ") + a;
    scope_.log.job(log::Level::info, "started service " + service.image + " as " + aliases);
  }
  return {};
}

Status DockerSandbox::create_container(api::Client& docker, journal::Journal& journal, const std::string& image,
                                       long long expires) {
  if (auto s = journal.intend(kContainerKind, names_.container, {{"image", image}}); !s) return s;
  auto created = docker.create_container(container_spec(image, expires));
  if (!created) return created.error();
  for (const auto& w : created->warnings) scope_.log.job(log::Level::warn, "docker: " + w);
  if (auto s = journal.created(kContainerKind, names_.container); !s) return s;
  return docker.start_container(names_.container);
}

Status DockerSandbox::prepare(journal::Journal& journal) {
  const auto& d = scope_.profile.docker;
  auto job = protocol::load_job_response(scope_.env);
  if (!job) return job.error();
  // The policy judges the name that will run: variables expanded first.
  std::optional<std::string> job_image;
  if (job->image) job_image = expand_variables(*job->image, *job);
  auto image = choose_image(scope_.profile, job_image);
  if (!image) return image.error();
  auto services = load_services(scope_.env, *job);
  if (!services) return services.error();
  for (const auto& service : *services) {
    if (auto allowed = choose_image(scope_.profile, service.image); !allowed) {
      return allowed.error().context("service: ");
    }
  }
  if (!d.runner_binary.empty()) {
    struct stat st {};
    if (::stat(d.runner_binary.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return make_error(ErrorKind::not_found, "docker.runner_binary " + d.runner_binary + " is not a file");
    }
  }
  auto docker = client(Cancellable::yes);
  if (!docker) return docker.error();

  // Leftovers of an earlier attempt, journaled or only labelled.
  auto report = teardown(journal);
  if (!report.removed.empty()) scope_.log.job(log::Level::info, "removed leftovers of an earlier attempt");
  if (!report.clean()) {
    return make_error(ErrorKind::io, "leftovers of an earlier attempt could not be removed: " + report.failed.front());
  }
  if (auto s = ensure_image(**docker, *job, image->name); !s) return s;
  for (const auto& service : *services) {
    if (auto s = ensure_image(**docker, *job, service.image); !s) return s;
  }

  if (auto s = create_job_cgroup(**docker, journal); !s) return s;

  long long timeout = job->timeout_seconds > 0 ? job->timeout_seconds : kDefaultTimeoutSeconds;
  long long expires = unix_now() + timeout + kExpiryMarginSeconds;
  if (auto s = create_network(**docker, journal, expires); !s) return s;
  if (auto s = create_volume(**docker, journal, expires); !s) return s;
  if (auto s = create_services(**docker, journal, *services, expires); !s) return s;
  if (d.api == profile::DockerApi::scoped) {
    if (auto s = ScopeProxy(scope_, names_).start(journal, cgroup_parent_); !s) return s;
  }
  if (auto s = create_container(**docker, journal, image->name, expires); !s) return s;
  scope_.log.job(log::Level::info, "using image " + image->name + " in container " + names_.container);
  scope_.log.admin(log::Level::info, "prepared docker job", {{"image", image->name}, {"container", names_.container}});
  return {};
}

}  // namespace phaedo::sandbox::docker
