// Writes the fuzzers' seed corpus under DIR: decode/ one valid message of
// each kind, records/ a stream of executor records, scheduler/ a few event
// streams. Usage: fuzz_seeds DIR
#include <filesystem>
#include <fstream>
#include <string>

#include "exec_channel.hpp"
#include "fuzz_frames.hpp"
#include "protocol.hpp"

namespace fs = std::filesystem;
namespace wire = dpool::internal::wire;
using dpool::internal::Payload;
using dpool::internal::Payloads;

namespace {

void write(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

Payloads one_payload(const std::string& s) {
  Payloads p;
  p.push_back(Payload::adopt(std::string(s)));
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  fs::path dir = argv[1];
  wire::Task task;
  task.id = 7;
  task.name = "square";
  task.fingerprint = 99;
  wire::Task process = task;
  process.process = "Process-1";
  wire::Result result;
  result.id = 7;
  result.node = "node";
  result.pid = 1234;
  std::vector<wire::Message> samples;
  samples.push_back(
      {wire::Hello{.role = wire::Role::kNode, .name = "n", .executors = 2, .slots = 4}, {}});
  samples.push_back({wire::Welcome{1, "coord", 2, 1000}, {}});
  samples.push_back({wire::Reject{"no"}, {}});
  samples.push_back({wire::Submit{wire::TaskBatch{{task}, {}}}, one_payload("args")});
  samples.push_back({wire::Dispatch{wire::TaskBatch{{process}, {}}}, one_payload("args")});
  samples.push_back({wire::Results{wire::ResultBatch{{result}}}, one_payload("out")});
  samples.push_back({wire::Deliver{wire::ResultBatch{{result}}}, one_payload("out")});
  samples.push_back({wire::Cancel{1, {7, 8}, false, true}, {}});
  samples.push_back({wire::Credit{4, 2}, {}});
  samples.push_back({wire::Heartbeat{{7, 8}}, {}});
  samples.push_back({wire::Bye{"bye"}, {}});
  samples.push_back({wire::Status{2, 1}, {}});
  samples.push_back({wire::Reclaim{3}, {}});
  samples.push_back({wire::Returned{{7}}, {}});
  samples.push_back({wire::Signal{{7}, 15}, {}});
  samples.push_back({wire::Output{"node", {wire::Lines{7, 1234, 1, "hello\n", 0}}}, {}});
  samples.push_back({wire::Code{1, "libt.so", std::string(64, 'a')}, one_payload("ELF")});
  samples.push_back({wire::Loaded{1, false, "undefined symbol"}, {}});
  int i = 0;
  for (auto& m : samples)
    write(dir / "decode" / ("kind-" + std::to_string(++i)),
          dpool_fuzz::join_frames(wire::encode(std::move(m))));

  std::string records;
  for (auto kind : {dpool::internal::RecordKind::kReady, dpool::internal::RecordKind::kDone,
                    dpool::internal::RecordKind::kRequest}) {
    std::string meta = wire::encode_meta(result), payload = "payload";
    std::string head(dpool::internal::kRecordHeaderBytes, '\0');
    dpool::internal::put_record_header(head.data(), kind, meta.size(), payload.size());
    records += head + meta + payload;
  }
  write(dir / "records" / "three", records);

  // Event streams: joins, a submit of both kinds of task, outboxes, results.
  std::string submit =
      dpool_fuzz::join_frames(wire::encode({wire::Submit{wire::TaskBatch{{task, process}, {}}}, [] {
                                              Payloads p;
                                              p.push_back(Payload::adopt(std::string("a")));
                                              p.push_back(Payload::adopt(std::string("b")));
                                              return p;
                                            }()}));
  std::string events;
  events += '\0';
  events += '\1';  // client 1 joins
  events += '\1';
  events += '\0';
  events += '\2';
  events += '\4';  // node 101, 2 executors, 4 slots
  write(dir / "scheduler" / "joins", events);
  return 0;
}
