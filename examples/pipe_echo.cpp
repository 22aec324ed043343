// multiprocessing.Pipe across machines: pool.pipe makes a pipe that the
// pool's coordinator hosts, so its ends work in this program, in tasks and
// in Processes on any node.
//   - a Process on a node echoes what it receives until "end";
//   - a task counts down into a one-way pipe that this program reads to its
//     end.
// Local mode with no argument; on a cluster with the coordinator's address
// (its workers run this same program: `dpool worker --exec pipe_echo`).
#include <cstdio>
#include <dpool/dpool.hpp>
#include <memory>
#include <string>

void echo(dpool::Connection conn) {
  for (auto m = conn.recv<std::string>(); m != "end"; m = conn.recv<std::string>())
    conn.send("echo: " + m);
}
DPOOL_REGISTER(echo);

int count_down(dpool::Connection out, int from) {
  for (int i = from; i > 0; --i) out.send(i);
  return from;  // `out` closes as the task returns: the reader sees the end
}
DPOOL_REGISTER(count_down);

int main(int argc, char** argv) {
  dpool::init(argc, argv);  // executors and Processes start here too
  auto pool = argc > 1 ? std::make_unique<dpool::Pool>(dpool::Connect{.address = argv[1]})
                       : std::make_unique<dpool::Pool>(2);

  auto [here, there] = pool->pipe();
  auto p = pool->process(dpool::ProcessOptions{.name = "echoer"}, echo, there);
  p.start();
  there.close();  // the Process holds its own copy of that end
  for (std::string word : {"hola", "mundo"}) {
    here.send(word);
    std::printf("%s\n", here.recv<std::string>().c_str());
  }
  here.send(std::string("end"));
  p.join();
  std::printf("echoer exited with %d on %s\n", *p.exitcode(), p.node().c_str());
  if (here.poll(std::chrono::seconds(10))) {  // its end closed when it did
    try {
      here.recv<std::string>();
    } catch (const dpool::EOFError&) {
      std::printf("the echoer's end is closed\n");
    }
  }

  auto [in, out] = pool->pipe(/*duplex=*/false);  // in receives, out sends
  auto counted = pool->apply_async(count_down, out, 3);
  out.close();
  std::printf("countdown:");
  for (;;) {
    try {
      std::printf(" %d", in.recv<int>());
    } catch (const dpool::EOFError&) {
      break;
    }
  }
  std::printf(" (a task sent %d)\n", counted.get());
}
