// A typed Docker Engine API client over the HttpClient seam.
//
// connect() negotiates the API version: GET /_ping (is a daemon there?), then
// GET /version; the client speaks min(kMaxApi, the daemon's ApiVersion) and fails
// when that is below the daemon's MinAPIVersion or below kMinApi. Every later path
// is prefixed with /v<version>. The client holds a reference to the HttpClient,
// which must outlive it (and every copy of the client); it keeps no other mutable
// state, so it is as thread-safe as its HttpClient.
//
// Errors of every call:
//   not_found — the daemon answered 404 (no such container, image, network,
//               volume, exec, or path in the container). For removals this means
//               "already gone"; see ignore_not_found().
//   peer      — any other non-2xx answer, or an answer that could not be decoded;
//               the message holds the HTTP status and the daemon's own message.
//   io        — the socket could not be reached or the exchange broke.
//   cancelled — Options::cancelled turned true, or the call's timeout expired.
//   invalid_input — an id or name that cannot be put in a URL path.
// Messages read "docker: <METHOD> <path>: HTTP <status>: <daemon message>".
//
// Timeouts: short calls use Options::request_timeout. Calls that last as long as
// the work they wait for (wait_container, start_exec/exec, import_image,
// upload_archive) take their own timeout, where 0 means no limit; they still stop
// on Options::cancelled within about a second.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "docker/types.h"
#include "transport/http.h"

namespace phaedo::docker {

struct ApiVersion {
  int major = 1;
  int minor = 0;

  // "1.41" → {1, 41}; nullopt when it is not two decimal numbers.
  static std::optional<ApiVersion> parse(std::string_view text);
  [[nodiscard]] std::string str() const;
  auto operator<=>(const ApiVersion&) const = default;
};

// The newest API this client knows, and the oldest it was verified against.
inline constexpr ApiVersion kMaxApi{1, 45};
inline constexpr ApiVersion kMinApi{1, 41};

enum class Force { no, yes };
enum class AnonymousVolumes { keep, remove };

// full: /_ping then /version (fills every VersionInfo field, checks MinAPIVersion).
// ping: the API-Version header of /_ping only, as the docker CLI does; /version costs
//   ~14 ms on Docker 20.10 (it runs `runc --version`), which short-lived stage
//   processes pay on every call. VersionInfo then holds api_version only; a daemon
//   whose minimum is above ours refuses the first request with its own message.
//   Falls back to full when the header is missing.
enum class Negotiation { full, ping };

struct Options {
  std::chrono::milliseconds request_timeout{30'000};
  transport::CancelCheck cancelled;  // e.g. &CancelToken::requested; empty = never
  Negotiation negotiation = Negotiation::full;
};

class Client {
 public:
  // Negotiates the version (see above). Errors: io when no daemon answers; peer when
  // the versions do not overlap or /version is malformed.
  static Result<Client> connect(transport::HttpClient& http, Options options = {});

  [[nodiscard]] const ApiVersion& api_version() const { return api_; }
  [[nodiscard]] const VersionInfo& daemon() const { return daemon_; }

  // GET /info: the daemon's cgroup driver and version.
  Result<SystemInfo> system_info();

  // --- images ---------------------------------------------------------------
  Result<ImageInfo> inspect_image(const std::string& reference);
  // POST /images/create?fromSrc=- with a tar rootfs from `tar`; returns the image id.
  // The daemon reports import errors inside a 200 answer; they come back as peer.
  Result<std::string> import_image(const ImportSpec& spec, transport::BodySource tar,
                                   std::optional<std::uint64_t> tar_size,
                                   std::chrono::milliseconds timeout = std::chrono::minutes(5));

  // --- containers -----------------------------------------------------------
  // 409 (peer) when the name is taken; not_found when the image is missing (the
  // daemon never pulls here: this client sends no fromImage).
  Result<CreatedContainer> create_container(const ContainerSpec& spec);
  // Idempotent: starting a running container succeeds (the daemon answers 304).
  Status start_container(const std::string& id);
  Result<ContainerInfo> inspect_container(const std::string& id);
  // Sends `signal` (e.g. "SIGKILL", "SIGTERM"). peer (409) when it is not running.
  Status kill_container(const std::string& id, const std::string& signal = "SIGKILL");
  // Force::yes kills a running container first; AnonymousVolumes::remove also
  // deletes its anonymous volumes. not_found when already gone.
  Status remove_container(const std::string& id, Force force, AnonymousVolumes volumes);
  // Blocks until the condition holds; returns the exit status.
  Result<WaitResult> wait_container(const std::string& id,
                                    WaitCondition condition = WaitCondition::not_running,
                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // All containers (running or not) matching every label term.
  Result<std::vector<ContainerSummary>> list_containers(const LabelFilter& labels);

  // --- networks and volumes -------------------------------------------------
  // Returns the network id. peer (409) when the name is taken.
  Result<std::string> create_network(const NetworkSpec& spec);
  // peer (403/409) while containers are attached; not_found when already gone.
  Status remove_network(const std::string& id_or_name);
  Result<std::vector<NetworkInfo>> list_networks(const LabelFilter& labels);
  // Idempotent on the daemon's side: creating an existing name returns it.
  Result<VolumeInfo> create_volume(const VolumeSpec& spec);
  // peer (409) while in use unless Force::yes; not_found when already gone.
  Status remove_volume(const std::string& name, Force force);
  Result<std::vector<VolumeInfo>> list_volumes(const LabelFilter& labels);

  // --- exec -----------------------------------------------------------------
  // Returns the exec id. peer (409) when the container is not running.
  Result<std::string> create_exec(const std::string& container_id, const ExecSpec& spec);
  // Starts the exec and streams its output to `sinks` as it arrives, returning when
  // the process closes its output (normally: when it exits). `tty` must match the
  // ExecSpec: it decides the framing. On cancel or timeout the stream is dropped
  // but the process keeps running in the container: kill the container (or the
  // process) to stop it.
  Status start_exec(const std::string& exec_id, Tty tty, const OutputSinks& sinks,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  Result<ExecInfo> inspect_exec(const std::string& exec_id);
  // create_exec + start_exec + inspect_exec. The returned ExecInfo has exit_code set;
  // it polls briefly when the daemon still reports the exec running after the
  // stream ended.
  Result<ExecInfo> exec(const std::string& container_id, const ExecSpec& spec, const OutputSinks& sinks,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // --- files ----------------------------------------------------------------
  // Extracts a tar stream (see tar.h) into directory `path` of the container, which
  // must exist (else not_found). Modes in the tar headers are kept.
  Status upload_archive(const std::string& container_id, const std::string& path, transport::BodySource tar,
                        std::optional<std::uint64_t> tar_size,
                        std::chrono::milliseconds timeout = std::chrono::minutes(5));

 private:
  Client(transport::HttpClient& http, Options options, ApiVersion api, VersionInfo daemon)
      : http_(&http), options_(std::move(options)), api_(api), daemon_(std::move(daemon)) {}

  // A request to the versioned `path` with the default timeout and the cancel check.
  [[nodiscard]] transport::HttpRequest request(transport::Method method, std::string path) const;
  // Sends; maps transport errors and non-2xx answers (except those in `also_ok`)
  // to errors that name the call.
  Result<transport::HttpResponse> send(const transport::HttpRequest& request,
                                       std::initializer_list<long> also_ok = {});
  // send() for calls whose answer body does not matter.
  Status send_only(const transport::HttpRequest& request, std::initializer_list<long> also_ok = {});
  // send(), then `decode` the body into a T; decoding errors name the call.
  // Defined in internal.h (only the client's .cc files instantiate it).
  template <typename T, typename Decode>
  Result<T> send_decoded(const transport::HttpRequest& request, Decode decode);

  transport::HttpClient* http_;
  Options options_;
  ApiVersion api_;
  VersionInfo daemon_;
};

// Turns not_found into success: for teardown, where "already gone" is done.
[[nodiscard]] inline Status ignore_not_found(Status status) {
  if (!status && status.error().kind == ErrorKind::not_found) return {};
  return status;
}

}  // namespace phaedo::docker
