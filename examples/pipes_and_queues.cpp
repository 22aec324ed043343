// multiprocessing.Pipe and multiprocessing.Queue in C++, between this
// program and its Processes on one machine: a child that echoes what it
// receives on a pipe until "end", and workers that square numbers from one
// queue into another. Handles passed to a Process refer to the same pipe end
// or queue in the child.
#include <cstdio>
#include <dpool/dpool.hpp>
#include <memory>
#include <string>
#include <vector>

void echo(dpool::Connection conn) {
  for (auto msg = conn.recv<std::string>(); msg != "end"; msg = conn.recv<std::string>())
    conn.send("echo: " + msg);
  conn.close();
}
DPOOL_REGISTER(echo);

void squarer(dpool::Queue<int> jobs, dpool::Queue<int> results) {
  for (int n = jobs.get(); n >= 0; n = jobs.get()) results.put(n * n);
}
DPOOL_REGISTER(squarer);

int main(int argc, char** argv) {
  dpool::init(argc, argv);

  // A pipe: the child gets one end, we keep the other.
  auto [parent_end, child_end] = dpool::pipe();
  dpool::Process echoer(echo, child_end);
  echoer.start();
  child_end.close();  // ours; the child has its own
  for (std::string word : {"hola", "mundo"}) {
    parent_end.send(word);
    std::printf("%s\n", parent_end.recv<std::string>().c_str());
  }
  parent_end.send(std::string("end"));
  echoer.join();
  std::printf("echoer exited with %d\n", *echoer.exitcode());

  // Two queues: squares of 0..9 computed by two processes.
  dpool::Queue<int> jobs, results;
  std::vector<std::unique_ptr<dpool::Process>> workers;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(std::make_unique<dpool::Process>(squarer, jobs, results));
    workers.back()->start();
  }
  for (int n = 0; n < 10; ++n) jobs.put(n);
  for (std::size_t i = 0; i < workers.size(); ++i) jobs.put(-1);  // one stop per worker
  long sum = 0;
  for (int n = 0; n < 10; ++n) sum += results.get();
  for (auto& w : workers) w->join();
  std::printf("sum of the squares of 0..9 = %ld\n", sum);
}
