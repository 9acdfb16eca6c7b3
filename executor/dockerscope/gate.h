// The gate: one decision per request. It routes the request target to the rule
// that governs it, asks the daemon who owns the objects it names, checks and
// rewrites the body and query, and says what to record once the daemon answered.
//
// Endpoints are allow-listed: anything the gate does not know is refused, so a new
// Engine API endpoint is closed until somebody decides about it.
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
