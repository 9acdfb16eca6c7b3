#include "dockerscope/gate.h"

#include <algorithm>
#include <memory>
#include <set>

#include "dockerscope/json_body.h"
#include "dockerscope/policy.h"

namespace phaedo::dockerscope {

using json_body::json;

namespace {

constexpr std::size_t kCaptureLimit = 1 << 20;

// Endpoint families the scoped API never serves, and why (the refusal's rule).
const std::pair<const char*, const char*> kRefusedAreas[] = {
    {"swarm", "swarm"},       {"nodes", "swarm"},     {"services", "swarm"},  {"tasks", "swarm"},
    {"secrets", "swarm secret"}, {"configs", "swarm config"}, {"plugins", "plugin"},
    {"session", "BuildKit session"}, {"grpc", "BuildKit session"},
};

// Reads JSON messages line by line as a stream passes (build and import output)
// and calls on_id with the image id it reports: {"aux":{"ID":…}}, an import's
// {"status":"sha256:…"}, a quiet build's {"stream":"sha256:…"} or the legacy
// "Successfully built <short id>". It fires before the rest of the stream is
// relayed, so the record is written before the client sees the build end.
struct StreamScan {
  std::string line;
  bool error = false;
  std::function<void(const std::string& id)> on_id;

  void feed(std::string_view bytes) {
    for (char c : bytes) {
      if (c == '\n') {
        take();
        line.clear();
      } else if (line.size() < kCaptureLimit) {
        line += c;
      }
    }
  }
  void take() {
    json doc = json::parse(line, nullptr, false);
    if (!doc.is_object()) return;
    if (doc.contains("error") || doc.contains("errorDetail")) error = true;
    if (error) return;
    auto text = [&](const char* key) {
      auto it = doc.find(key);
      return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (auto aux = doc.find("aux"); aux != doc.end() && aux->is_object() && aux->contains("ID") &&
                                    (*aux)["ID"].is_string())
      return on_id((*aux)["ID"].get<std::string>());
    std::string status = text("status");
    if (status.rfind("sha256:", 0) == 0) return on_id(status);
    std::string stream = text("stream");
    while (!stream.empty() && (stream.back() == '\n' || stream.back() == '\r')) stream.pop_back();
    if (stream.rfind("sha256:", 0) == 0 && stream.size() == 71) return on_id(stream);
    if (stream.rfind("Successfully built ", 0) == 0) return on_id(stream.substr(19));
  }
};

std::string ref_of(const std::string& repo, const std::string& tag) {
  if (tag.empty()) return repo;
  return repo + (tag.rfind("sha256:", 0) == 0 ? "@" : ":") + tag;
}

}  // namespace

Status Gate::check_new_ref(const std::string& ref) {
  if (images_->owns_ref(ref)) return {};
  Result<std::optional<ImageFacts>> facts = owner_.image(ref);
  if (!facts) return facts.error();
  if (facts->has_value()) return refusal("tag", ref + " exists and is not this job's");
  return {};
}

Status Gate::scope_list(Target& t) {
  Result<std::optional<std::string>> filters = t.param("filters");
  if (!filters) return filters.error();
  Result<std::string> scoped = scoped_filters(*filters, scope_);
  if (!scoped) return scoped.error();
  t.set_param("filters", *scoped);
  return {};
}

Result<Plan> Gate::decide(const RequestHead& head, const BodyReader& read_body) {
  Result<Target> parsed = Target::parse(head.target);
  if (!parsed) return parsed.error();
  Target& t = *parsed;
  Plan plan;
  plan.head = head;
  const std::string& area = t.seg(0);
  const std::string& method = head.method;

  Status status;
  if (area == "_ping" || area == "version" || area == "info" || area == "auth") {
    // Read-only facts about the daemon (the CLI negotiates with them) and registry logins.
    if (t.segments.size() != 1) status = refusal("endpoint", head.target);
  } else if (area == "events" && t.segments.size() == 1) {
    status = scope_list(t);
  } else if (area == "containers") {
    status = containers(t, method, plan, read_body);
  } else if (area == "exec" && t.segments.size() == 3 &&
             (t.seg(2) == "start" || t.seg(2) == "resize" || t.seg(2) == "json")) {
    Result<std::string> id = owner_.exec(t.seg(1));
    if (id) t.segments[1] = *id;
    else status = id.error();
  } else if (area == "images") {
    status = images(t, method, plan);
  } else if (area == "networks" || area == "volumes") {
    status = objects(t, method, plan, read_body);
  } else if (area == "build" && t.segments.size() == 1 && method == "POST") {
    status = build(t, plan);
  } else if (area == "commit" && t.segments.size() == 1 && method == "POST") {
    status = commit(t, plan);
  } else if (area == "distribution" && method == "GET" && t.seg(t.segments.size() - 1) == "json") {
    // Registry metadata of an image, fetched with the job's own credentials.
  } else if (area == "system" && t.seg(1) == "df") {
    status = refusal("daemon-wide endpoint", "/system/df lists every job's objects");
  } else {
    status = refusal("endpoint", method + " /" + t.join(0));
    for (const auto& [name, rule] : kRefusedAreas) {
      if (area == name) status = refusal(rule, method + " /" + t.join(0));
    }
    if (t.seg(t.segments.size() - 1) == "prune")
      status = refusal("prune", "/" + t.join(0) + " is daemon-wide; cleanup removes the job's objects");
  }
  if (!status) return status.error();
  plan.head.target = t.str();
  return plan;
}

Status Gate::containers(Target& t, const std::string& method, Plan& plan, const BodyReader& read_body) {
  const std::string& what = t.seg(1);
  if (t.segments.size() == 2 && what == "json") return scope_list(t);
  if (what == "prune") return refusal("prune", "/containers/prune is daemon-wide");
  if (t.segments.size() == 2 && what == "create" && method == "POST") {
    Result<std::optional<std::string>> name = t.param("name");
    if (!name) return name.error();
    if (Status s = check_name("container", name->value_or("")); !s) return s;
    Result<std::string> body = read_body();
    if (!body) return body.error();
    Result<CreateBody> checked = container_create(*body, scope_, owner_);
    if (!checked) return checked.error();
    for (const std::string& volume : checked->volumes_to_create) {
      if (Status s = owner_.create_volume(volume); !s) return s;
    }
    plan.body = std::move(checked->body);
    return {};
  }
  if (what.empty()) return refusal("endpoint", "/containers");

  static const std::set<std::string> kOps = {"json",  "logs",  "top",     "changes", "export", "stats",
                                             "resize", "start", "stop",   "restart", "kill",   "pause",
                                             "unpause", "wait", "attach", "archive", "update", "exec",
                                             "rename"};
  const std::string op = t.seg(2);
  bool known = (t.segments.size() == 2 && method == "DELETE") ||
               (t.segments.size() == 3 && kOps.count(op) > 0) ||
               (t.segments.size() == 4 && op == "attach" && t.seg(3) == "ws");
  if (!known) return refusal("endpoint", method + " /" + t.join(0));
  Result<std::string> id = owner_.container(what);
  if (!id) return id.error();
  t.segments[1] = *id;

  if (op == "rename") {
    Result<std::optional<std::string>> name = t.param("name");
    if (!name) return name.error();
    return check_name("container", name->value_or(""));
  }
  if (op == "update" || op == "exec") {
    Result<std::string> body = read_body();
    if (!body) return body.error();
    Result<std::string> checked = op == "update" ? container_update(*body, scope_) : exec_create(*body);
    if (!checked) return checked.error();
    plan.body = std::move(checked).value();
  }
  return {};
}

Status Gate::objects(Target& t, const std::string& method, Plan& plan, const BodyReader& read_body) {
  const bool networks = t.seg(0) == "networks";
  const std::string& what = t.seg(1);
  if (t.segments.size() == 1 && method == "GET") return scope_list(t);
  if (what == "prune") return refusal("prune", "/" + t.join(0) + " is daemon-wide");
  if (t.segments.size() == 2 && what == "create" && method == "POST") {
    Result<std::string> body = read_body();
    if (!body) return body.error();
    Result<std::string> checked = networks ? network_create(*body, scope_) : volume_create(*body, scope_);
    if (!checked) return checked.error();
    plan.body = std::move(checked).value();
    return {};
  }
  const std::string op = t.seg(2);
  bool known = (t.segments.size() == 2 && (method == "GET" || method == "DELETE")) ||
               (networks && t.segments.size() == 3 && method == "POST" && (op == "connect" || op == "disconnect"));
  if (!known) return refusal("endpoint", method + " /" + t.join(0));
  if (networks) {
    Result<std::string> id = owner_.network(what);
    if (!id) return id.error();
    t.segments[1] = *id;
    if (!op.empty()) {
      Result<std::string> body = read_body();
      if (!body) return body.error();
      Result<std::string> checked = network_connect(*body, owner_);
      if (!checked) return checked.error();
      plan.body = std::move(checked).value();
    }
    return {};
  }
  Result<VolumeState> state = owner_.volume(what);
  if (!state) return state.error();
  if (*state == VolumeState::absent) return make_error(ErrorKind::not_found, "No such volume: " + what);
  return {};
}

Status Gate::images(Target& t, const std::string& method, Plan& plan) {
  const std::string& what = t.seg(1);
  const std::size_t n = t.segments.size();
  if (n == 2 && what == "json" && method == "GET") {
    // Pulled images carry no label of the job: the list is cut to the record.
    plan.buffer_response = true;
    plan.rewrite = [this](const std::string& body) {
      json doc = json::parse(body, nullptr, false);
      if (!doc.is_array()) return std::string("[]");
      json kept = json::array();
      for (const json& image : doc) {
        bool mine = image.is_object() && image.contains("Id") && image["Id"].is_string() &&
                    images_->owns_id(image["Id"].get<std::string>());
        for (const json& tag : image.value("RepoTags", json::array())) {
          if (tag.is_string() && images_->owns_ref(tag.get<std::string>())) mine = true;
        }
        if (mine) kept.push_back(image);
      }
      return kept.dump();
    };
    return {};
  }
  if (n == 2 && (what == "search" || what == "get") && method == "GET") return {};
  if (what == "prune") return refusal("prune", "/images/prune removes every job's images");
  if (n == 2 && what == "load")
    return refusal("image load", "an archive can re-point any tag, including other jobs' images");
  if (n == 2 && what == "create" && method == "POST") {
    Result<std::optional<std::string>> from_src = t.param("fromSrc");
    Result<std::optional<std::string>> from_image = t.param("fromImage");
    Result<std::optional<std::string>> repo = t.param("repo");
    Result<std::optional<std::string>> tag = t.param("tag");
    for (const auto* r : {&from_src, &from_image, &repo, &tag}) {
      if (!*r) return r->error();
    }
    if (from_src->has_value()) {  // import
      if (**from_src != "-") return refusal("image import", "fromSrc=" + **from_src + " (the daemon would fetch it)");
      std::string ref = repo->value_or("").empty() ? "" : normalize_ref(ref_of(**repo, tag->value_or("")));
      if (!ref.empty()) {
        if (Status s = check_new_ref(ref); !s) return s;
      }
      record_stream(plan, ref.empty() ? std::vector<std::string>{} : std::vector<std::string>{ref});
      return {};
    }
    if (!from_image->has_value() || (*from_image)->empty()) return refusal("image create", "neither fromImage nor fromSrc");
    std::string ref = ref_of(**from_image, tag->value_or(""));
    std::size_t slash = ref.rfind('/');
    std::string last = ref.substr(slash == std::string::npos ? 0 : slash + 1);
    if (last.find(':') == std::string::npos && last.find('@') == std::string::npos)
      return refusal("pull", "all tags of " + ref);
    // A pull may refresh a registry image, but must not replace a local one (built
    // or imported here, never pulled) that other jobs may use as their base.
    if (!images_->owns_ref(ref) && ref.find('@') == std::string::npos) {
      Result<std::optional<ImageFacts>> facts = owner_.image(ref);
      if (!facts) return facts.error();
      if (facts->has_value() && (*facts)->repo_digests.empty())
        return refusal("pull", ref + " is a local image that did not come from a registry");
    }
    return {};
  }
  if (method == "DELETE" && n >= 2) {
    std::string name = t.join(1);
    Result<std::optional<ImageFacts>> facts = owner_.image(name);
    if (!facts) return facts.error();
    if (!facts->has_value()) return make_error(ErrorKind::not_found, "No such image: " + name);
    const ImageFacts& image = **facts;
    const bool by_ref = images_->owns_ref(name);
    bool by_id = images_->owns_id(image.id) && (name == image.id || image.id.find(name) != std::string::npos);
    if (by_id) {
      for (const std::string& tag : image.repo_tags) {
        if (!images_->owns_ref(tag)) by_id = false;
      }
    }
    if (!by_ref && !by_id) return refusal("image removal", name + " was not built or tagged by this job");
    // The daemon's answer lists what it untagged and deleted; forget exactly that.
    plan.buffer_response = true;
    plan.finish = [this](int status, const std::string& body) {
      if (status != 200) return;
      json doc = json::parse(body, nullptr, false);
      if (!doc.is_array()) return;
      std::vector<std::string> ids, refs;
      for (const json& item : doc) {
        if (!item.is_object()) continue;
        if (item.contains("Untagged") && item["Untagged"].is_string()) refs.push_back(item["Untagged"].get<std::string>());
        if (item.contains("Deleted") && item["Deleted"].is_string()) ids.push_back(item["Deleted"].get<std::string>());
      }
      (void)images_->forget(ids, refs);
    };
    return {};
  }
  if (n >= 3) {
    const std::string op = t.seg(n - 1);
    const std::string name = t.join(1, 1);
    if (method == "GET" && (op == "json" || op == "history" || op == "get")) return {};
    if (method == "POST" && op == "push") return {};  // with the job's own X-Registry-Auth
    if (method == "POST" && op == "tag") {
      Result<std::optional<std::string>> repo = t.param("repo");
      Result<std::optional<std::string>> tag = t.param("tag");
      if (!repo) return repo.error();
      if (!tag) return tag.error();
      std::string ref = normalize_ref(ref_of(repo->value_or(""), tag->value_or("")));
      if (Status s = check_new_ref(ref); !s) return s;
      plan.finish = [this, ref](int status, const std::string&) {
        if (status == 201 || status == 200) (void)images_->add({}, {ref});
      };
      return {};
    }
  }
  return refusal("endpoint", method + " /" + t.join(0));
}

Status Gate::build(Target& t, Plan& plan) {
  if (Status s = build_query(t, scope_, owner_); !s) return s;
  std::vector<std::string> refs;
  for (const std::string& tag : t.params("t")) {
    std::string ref = normalize_ref(tag);
    if (Status s = check_new_ref(ref); !s) return s;
    refs.push_back(ref);
  }
  record_stream(plan, refs);
  return {};
}

void Gate::record_stream(Plan& plan, std::vector<std::string> refs) {
  auto scan = std::make_shared<StreamScan>();
  // A multi-stage build reports the image of each stage that ends; only the last
  // is the build's. The others are layers like any intermediate step (the shared
  // cache the next build reuses), so an id this stream recorded is forgotten when
  // the stream reports the next one.
  auto recorded_here = std::make_shared<std::string>();
  scan->on_id = [this, refs = std::move(refs), recorded_here](const std::string& reported) {
    Result<std::optional<ImageFacts>> facts = owner_.image(reported);
    if (!facts || !facts->has_value()) return;
    const std::string& id = (*facts)->id;
    if (id == *recorded_here) return;
    if (!recorded_here->empty()) (void)images_->forget({*recorded_here}, {});
    recorded_here->clear();
    // A build can end on an image that already existed (a Dockerfile of only FROM
    // and cached steps). It is the job's only if nobody else has tagged it.
    bool others = false;
    for (const std::string& tag : (*facts)->repo_tags) {
      if (!images_->owns_ref(tag) && std::find(refs.begin(), refs.end(), normalize_ref(tag)) == refs.end())
        others = true;
    }
    if (!others && !images_->owns_id(id)) *recorded_here = id;
    (void)images_->add(others ? std::vector<std::string>{} : std::vector<std::string>{id}, refs);
  };
  plan.observe = [scan](std::string_view b) { scan->feed(b); };
}

Status Gate::commit(Target& t, Plan& plan) {
  Result<std::optional<std::string>> container = t.param("container");
  Result<std::optional<std::string>> repo = t.param("repo");
  Result<std::optional<std::string>> tag = t.param("tag");
  for (const auto* r : {&container, &repo, &tag}) {
    if (!*r) return r->error();
  }
  Result<std::string> id = owner_.container(container->value_or(""));
  if (!id) return id.error();
  t.set_param("container", *id);
  std::string ref = repo->value_or("").empty() ? "" : normalize_ref(ref_of(**repo, tag->value_or("")));
  if (!ref.empty()) {
    if (Status s = check_new_ref(ref); !s) return s;
  }
  plan.buffer_response = true;
  plan.finish = [this, ref](int status, const std::string& body) {
    if (status != 201) return;
    json doc = json::parse(body, nullptr, false);
    if (!doc.is_object() || !doc.contains("Id") || !doc["Id"].is_string()) return;
    (void)images_->add({doc["Id"].get<std::string>()}, ref.empty() ? std::vector<std::string>{} : std::vector<std::string>{ref});
  };
  return {};
}

}  // namespace phaedo::dockerscope
