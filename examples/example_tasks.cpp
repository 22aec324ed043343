// Tasks served by `dpool worker --load libexample_tasks.so`. Any program can
// call them by name with dpool::Remote<Sig>, without linking this code.
#include <dpool/dpool.hpp>
#include <string>
#include <vector>

namespace example {

int square(int x) {
  return x * x;
}

double mean(std::vector<double> xs) {
  double sum = 0;
  for (double x : xs) sum += x;
  return xs.empty() ? 0 : sum / static_cast<double>(xs.size());
}

std::string shout(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s + "!";
}

}  // namespace example

DPOOL_REGISTER_AS(example::square, "square");
DPOOL_REGISTER_AS(example::mean, "mean");
DPOOL_REGISTER_AS(example::shout, "shout");
