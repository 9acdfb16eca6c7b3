#include "daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <sstream>

#include "core/fd.h"
#include "docker/tar.h"

namespace phaedo::docker::testing {
namespace {

std::string make_run_id() {
  std::random_device rd;
  char buf[64];
  std::snprintf(buf, sizeof buf, "phaedo-t%d-%06x", static_cast<int>(::getpid()), rd() & 0xFFFFFFu);
  return buf;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorKind::not_found, path + ": cannot open (install busybox-static)");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Result<std::vector<std::string>> busybox_applets() {
  FILE* p = ::popen("/bin/busybox --list", "r");
  if (p == nullptr) return make_error(ErrorKind::io, "cannot run /bin/busybox --list");
  std::vector<std::string> names;
  char line[256];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::string name(line);
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
    if (!name.empty() && name != "busybox") names.push_back(name);
  }
  if (::pclose(p) != 0 || names.empty()) return make_error(ErrorKind::io, "/bin/busybox --list failed");
  return names;
}

// A minimal rootfs: /bin/busybox with one symlink per applet, /etc/passwd, /tmp.
Result<std::string> busybox_rootfs() {
  Result<std::string> binary = read_file("/bin/busybox");
  if (!binary) return binary.error();
  Result<std::vector<std::string>> applets = busybox_applets();
  if (!applets) return applets.error();
  TarWriter tar;
  auto add = [&](EntryType type, std::string path, std::string content, std::uint32_t mode) {
    return tar.add(TarEntry{std::move(path), type, std::move(content), mode, 0, 0, 1'700'000'000});
  };
  for (auto [dir, mode] : {std::pair{"bin", 0755u}, {"etc", 0755u}, {"root", 0700u}, {"tmp", 01777u}}) {
    if (Status s = add(EntryType::directory, dir, "", mode); !s) return s.error();
  }
  if (Status s = add(EntryType::file, "bin/busybox", std::move(binary).value(), 0755); !s) return s.error();
  for (const std::string& applet : *applets) {
    if (Status s = add(EntryType::symlink, "bin/" + applet, "busybox", 0777); !s) return s.error();
  }
  if (Status s = add(EntryType::file, "etc/passwd",
                     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", 0644);
      !s) {
    return s.error();
  }
  if (Status s = add(EntryType::file, "etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644); !s)
    return s.error();
  return std::move(tar).finish();
}

// Imports the test image unless present. A lock file keeps parallel test processes
// from importing it twice (which would leave an untagged duplicate behind).
Status ensure_image(Client& docker) {
  Result<ImageInfo> image = docker.inspect_image(kImage);
  if (image) return {};
  if (image.error().kind != ErrorKind::not_found) return image.error();

  Fd lock(::open("/tmp/phaedo-test-busybox-image.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0)
    return make_error(ErrorKind::io, "cannot lock the image build");
  if (docker.inspect_image(kImage)) return {};

  Result<std::string> rootfs = busybox_rootfs();
  if (!rootfs) return rootfs.error();
  const std::uint64_t size = rootfs->size();
  ImportSpec spec{"phaedo-test/busybox",
                  "1",
                  {R"(CMD ["/bin/sh"])", "ENV PATH=/bin", "LABEL phaedo.io/test-fixture=busybox"}};
  Result<std::string> id =
      docker.import_image(spec, transport::body_from_string(std::move(rootfs).value()), size);
  if (!id) return id.error();
  return {};
}

void init(Daemon& d) {
  d.run_id = make_run_id();
  const char* override_socket = std::getenv("PHAEDO_TEST_DOCKER_SOCKET");
  const std::string socket = override_socket != nullptr ? override_socket : kDefaultSocket;
  struct stat st {};
  if (::stat(socket.c_str(), &st) != 0) {
    d.problem = socket + " does not exist";
    return;
  }
  Result<std::unique_ptr<transport::CurlHttpClient>> http =
      transport::CurlHttpClient::create({transport::UnixSocketEndpoint{socket}});
  if (!http) {
    d.problem = http.error().message;
    return;
  }
  d.http = std::move(http).value();
  Result<Client> client = Client::connect(*d.http);
  if (!client) {
    d.problem = client.error().message;
    return;
  }
  d.client.emplace(std::move(client).value());
  if (Status s = ensure_image(*d.client); !s) {
    d.problem = "cannot prepare the test image " + std::string(kImage) + ": " + s.error().message;
    d.client.reset();
  }
}

}  // namespace

Daemon& Daemon::get() {
  static Daemon d;
  static std::once_flag once;
  std::call_once(once, [] { init(d); });
  return d;
}

void DaemonTest::SetUp() {
  const Daemon& d = Daemon::get();
  if (d.problem.empty()) return;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    GTEST_FAIL() << "Docker daemon required under CI=true: " << d.problem;
  }
  GTEST_SKIP() << "no usable Docker daemon: " << d.problem;
}

void DaemonTest::TearDown() {
  if (!Daemon::get().problem.empty()) return;
  // Remove exactly what this run labelled, whatever the test left behind.
  if (auto containers = docker().list_containers(label_filter())) {
    for (const auto& c : *containers) {
      Status s = ignore_not_found(docker().remove_container(c.id, Force::yes, AnonymousVolumes::remove));
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
  }
  if (auto networks = docker().list_networks(label_filter())) {
    for (const auto& n : *networks) {
      Status s = ignore_not_found(docker().remove_network(n.id));
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
  }
  if (auto volumes = docker().list_volumes(label_filter())) {
    for (const auto& v : *volumes) {
      Status s = ignore_not_found(docker().remove_volume(v.name, Force::yes));
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
  }
}

ContainerSpec DaemonTest::sleeper_spec(const std::string& suffix) {
  ContainerSpec spec;
  spec.name = name(suffix);
  spec.image = kImage;
  spec.cmd = {"sleep", "600"};
  spec.labels = labels();
  spec.host.init = Init::docker_init;  // PID 1 that forwards signals and reaps
  return spec;
}

std::string DaemonTest::start(const ContainerSpec& given) {
  // No network unless the test asks for one: the daemon's default bridge (docker0)
  // may not exist on a test host, and these tests need no network of their own.
  ContainerSpec spec = given;
  if (spec.host.network_mode.empty()) spec.host.network_mode = "none";
  Result<CreatedContainer> created = docker().create_container(spec);
  if (!created) {
    ADD_FAILURE() << created.error().message;
    return {};
  }
  Status started = docker().start_container(created->id);
  EXPECT_TRUE(started.ok()) << started.error().message;
  return created->id;
}

Captured DaemonTest::sh(const std::string& container, const std::string& script) {
  Captured c;
  OutputSinks sinks{[&](std::string_view b) {
                      c.out += b;
                      return Status{};
                    },
                    [&](std::string_view b) {
                      c.err += b;
                      return Status{};
                    }};
  Result<ExecInfo> info = docker().exec(container, ExecSpec{{"sh", "-c", script}, {}, "", "", Tty::off},
                                        sinks, std::chrono::seconds(120));
  if (!info) {
    ADD_FAILURE() << "exec failed: " << info.error().message;
    return c;
  }
  c.exit_code = info->exit_code.value_or(-1);
  return c;
}

}  // namespace phaedo::docker::testing
