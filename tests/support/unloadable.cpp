// A library that cannot be loaded: it needs a symbol that nothing defines,
// so dlopen (RTLD_NOW) fails with "undefined symbol".
extern "C" int dpool_test_symbol_nobody_defines(int);

int unloadable_entry(int x) {
  return dpool_test_symbol_nobody_defines(x);
}
