// The gate: one decision per request. It routes the request target to the rule
// that governs it, asks the daemon who owns the objects it names, checks and
// rewrites the body and query, and says what to record once the daemon answered.
//
// Endpoints are allow-listed: anything the gate does not know is refused, so a new
// Engine API endpoint is closed until somebody decides about it.
//
// Decisions where the issue left a choice (ARCHITECTURE.md will carry them):
//  * Ownership is the label phaedo.io/job=<key>, added to every container, network
//    and volume created through the proxy (a job may set no phaedo.io/ label itself);
//    names starting "phaedo-" are the driver's and refused. Execs are the job's when
//    their container is. Images: the ImageRecord (pulls are the shared cache).
//  * Port publishing (-p, -P) is refused: the job reaches its containers by name on
//    its network; host ports would expose them on the runner's interfaces and
//    collide between jobs.
//  * /info, /version, /_ping, /auth, /distribution/*/json and image reads (inspect,
//    history, save, search) and push are allowed: read-only or registry-side with
//    the job's own credentials, and tools probe them. /system/df is refused (it
//    names every job's objects). Every */prune is refused: daemon-wide by default,
//    and cleanup removes the job's objects anyway.
//  * /session, /grpc and build version=2 (BuildKit) are refused: BuildKit's LLB
//    (RUN --network=host, entitlements) cannot be inspected here; the legacy
//    builder's query can. Remote build contexts are refused (the daemon would
//    fetch them from the host's network).
//  * Image load is refused (an archive can re-point any tag); import only from the
//    request body. Tag, build -t, commit and import may only point a reference that
//    is free or already the job's. A pull may not replace a local image that never
//    came from a registry (a shared base built or imported on this host).
//  * The job's network (--network) replaces the default network of containers and
//    builds; limits are per container, no larger than the job's, added when absent.
//  * A job may not choose a cgroup parent; with the job's cgroup (--cgroup-parent,
//    sandbox/docker/job_cgroup.h) every container and build gets that one, so the
//    job's limits also hold for the sum of its containers.
//
// Errors of decide(), which the server turns into HTTP answers the docker CLI prints:
//   rejected      → 403 {"message":"phaedo: <rule> refused: <detail>"}
//   invalid_input → 400 (a body or target the policy cannot read)
//   not_found     → 404 (the named object does not exist)
//   peer, io      → 502 (the daemon failed while the gate asked it)
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "dockerscope/image_record.h"
#include "dockerscope/ownership.h"
#include "dockerscope/scope.h"
#include "dockerscope/target.h"
#include "dockerscope/wire.h"
#include "transport/http.h"

namespace phaedo::dockerscope {

// What to do with one permitted request.
struct Plan {
  RequestHead head;                  // to forward (target rebuilt, maybe rewritten)
  std::optional<std::string> body;   // replaces the request body (it was read whole)
  Observer observe;                  // sees the response payload as it passes
  // Called with the answer's status before the answer goes to the client, so what
  // it records is on disk when the client sees the answer. With buffer_response,
  // the (small) body is read whole first and passed too.
  std::function<void(int status, const std::string& body)> finish;
  bool buffer_response = false;
  // With buffer_response and a 2xx answer: the body the client gets instead.
  std::function<std::string(const std::string& body)> rewrite;
};

// Reads the request's whole body; the gate calls it only for bodies it inspects.
using BodyReader = std::function<Result<std::string>()>;

class Gate {
 public:
  // `upstream` answers the gate's own questions (inspect, volume create); it and
  // `images` must outlive the gate. Thread-safe: decide() runs on many threads.
  Gate(Scope scope, transport::HttpClient& upstream, ImageRecord& images)
      : scope_(std::move(scope)), owner_(upstream, scope_), images_(&images) {}

  Result<Plan> decide(const RequestHead& head, const BodyReader& read_body);

  [[nodiscard]] const Scope& scope() const { return scope_; }

 private:
  Status containers(Target& t, const std::string& method, Plan& plan, const BodyReader& read_body);
  Status images(Target& t, const std::string& method, Plan& plan);
  Status objects(Target& t, const std::string& method, Plan& plan, const BodyReader& read_body);
  Status build(Target& t, Plan& plan);
  Status commit(Target& t, Plan& plan);
  // A reference the job is about to (re)point: free, or already the job's.
  Status check_new_ref(const std::string& ref);
  // Records the image id a build or import stream reports, with `refs`.
  void record_stream(Plan& plan, std::vector<std::string> refs);
  Status scope_list(Target& t);

  Scope scope_;
  DaemonOwner owner_;
  ImageRecord* images_;
};

}  // namespace phaedo::dockerscope
