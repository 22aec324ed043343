// A program that forgets dpool::init: building a local Pool must fail at once
// with a message saying what to add.
#include <dpool/dpool.hpp>
#include <iostream>

int main() {
  try {
    dpool::Pool pool(1);
  } catch (const dpool::Error& e) {
    std::cout << e.what() << std::endl;
    return 1;
  }
  return 0;
}
