// Exec calls of docker::Client.
#include <thread>

#include "docker/client.h"
#include "docker/codec.h"
#include "docker/demux.h"
#include "docker/internal.h"

namespace phaedo::docker {

using transport::HttpRequest;
using transport::HttpResponse;
using transport::Method;

Result<std::string> Client::create_exec(const std::string& container_id, const ExecSpec& spec) {
  if (Status s = check_segment("container", container_id); !s) return s.error();
  if (spec.cmd.empty()) return make_error(ErrorKind::invalid_input, "docker: exec: empty command");
  HttpRequest r = request(Method::post, "/containers/" + container_id + "/exec");
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = codec::encode_exec_spec(spec);
  return send_decoded<std::string>(r, codec::decode_exec_id);
}

Status Client::start_exec(const std::string& exec_id, Tty tty, const OutputSinks& sinks,
                          std::chrono::milliseconds timeout) {
  if (Status s = check_segment("exec", exec_id); !s) return s;
  HttpRequest r = request(Method::post, "/exec/" + exec_id + "/start");
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = codec::encode_exec_start(tty);
  r.timeout = timeout;
  // Framing follows the Tty flag we sent, not the Content-Type: API 1.41 labels the
  // multiplexed stream "raw-stream" too.
  StreamDemuxer demuxer(sinks);
  if (tty == Tty::on) {
    r.on_body = [&sinks](std::string_view bytes) { return sinks.out ? sinks.out(bytes) : Status{}; };
  } else {
    r.on_body = [&demuxer](std::string_view bytes) { return demuxer.feed(bytes); };
  }
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  if (tty == Tty::off) {
    if (Status s = demuxer.finish(); !s) return answer_error(r, s.error());
  }
  return {};
}

Result<ExecInfo> Client::inspect_exec(const std::string& exec_id) {
  if (Status s = check_segment("exec", exec_id); !s) return s.error();
  HttpRequest r = request(Method::get, "/exec/" + exec_id + "/json");
  return send_decoded<ExecInfo>(r, codec::decode_exec_info);
}

Result<ExecInfo> Client::exec(const std::string& container_id, const ExecSpec& spec, const OutputSinks& sinks,
                              std::chrono::milliseconds timeout) {
  Result<std::string> id = create_exec(container_id, spec);
  if (!id) return id.error();
  if (Status s = start_exec(*id, spec.tty, sinks, timeout); !s) return s.error();
  // The stream ends when the process closes its output; the daemon records the exit
  // a moment later. Poll for up to ~5 s.
  for (int attempt = 0;; ++attempt) {
    Result<ExecInfo> info = inspect_exec(*id);
    if (!info) return info;
    if (!info->running && info->exit_code) return info;
    if (attempt == 100) {
      return make_error(ErrorKind::peer,
                        "docker: exec " + *id + ": output ended but the daemon still reports it running");
    }
    if (options_.cancelled && options_.cancelled()) {
      return make_error(ErrorKind::cancelled, "docker: exec " + *id + ": cancelled");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace phaedo::docker
