// The request policy: checks and rewrites of the request bodies and query
// parameters that can reach beyond the job.
//
// Each check takes the body as sent and returns the body to forward (labels, the
// job's network and limits added) or an error:
//   rejected      — the policy refuses it; the message reads "<rule> refused: <detail>";
//   invalid_input — the body is not a JSON document the policy can read;
//   not_found / peer / io — from the Owner while resolving a name.
// JSON stays inside this layer: the bodies are forwarded as documents, not as
// typed structs, because the daemon must receive every field the client sent
// (a struct would silently drop fields this proxy does not know).
//
// Bodies are parsed strictly, because the daemon's Go decoder matches field names
// case-insensitively: a body with two keys that differ only in case, a key that
// is not ASCII (Go folds 'ſ' to 's'), or a checked field spelled in another case
// ("privileged") is refused rather than guessed at.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dockerscope/scope.h"
#include "dockerscope/target.h"

namespace phaedo::dockerscope {

// A refusal: kind rejected, message "<rule> refused: <detail>".
[[nodiscard]] Error refusal(const std::string& rule, const std::string& detail);
// An error found while checking `field`: refusals keep their "<rule> refused"
// start and name the field at the end; other errors get it as a prefix.
[[nodiscard]] Error in_field(const Error& error, const std::string& field);

enum class VolumeState { absent, owned };

// Answers about the objects a request names. Implementations ask the daemon
// (ownership.h); tests use a fake. Errors: rejected when the object is not the
// job's, not_found when it does not exist, peer/io when the daemon failed.
class Owner {
 public:
  virtual ~Owner() = default;
  // The full id of the job's container called (or with the id prefix) `ref`.
  virtual Result<std::string> container(const std::string& ref) = 0;
  // The full id of the job's network `ref` (the job's own network counts).
  virtual Result<std::string> network(const std::string& ref) = 0;
  virtual Result<VolumeState> volume(const std::string& name) = 0;
};

// A create body that passed, and the named volumes it uses that do not exist yet
// (the caller creates them with the job's labels before forwarding, so the daemon
// does not create them unlabelled).
struct CreateBody {
  std::string body;
  std::vector<std::string> volumes_to_create;
};

Result<CreateBody> container_create(std::string_view body, const Scope& scope, Owner& owner);
Result<std::string> container_update(std::string_view body, const Scope& scope);
Result<std::string> exec_create(std::string_view body);
Result<std::string> network_create(std::string_view body, const Scope& scope);
Result<std::string> volume_create(std::string_view body, const Scope& scope);
// /networks/{id}/connect and /disconnect: the container must be the job's.
Result<std::string> network_connect(std::string_view body, Owner& owner);

// A `filters` query value with the job's label term added (list endpoints, events).
Result<std::string> scoped_filters(const std::optional<std::string>& filters, const Scope& scope);
// The query of POST /build, checked and rewritten in place (tags are the gate's).
Status build_query(Target& target, const Scope& scope, Owner& owner);
// A name a job gives a container, network or volume (create, rename).
Status check_name(const std::string& kind, const std::string& name);

}  // namespace phaedo::dockerscope
