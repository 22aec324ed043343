// DPOOL_API marks what libdpool exports. The library is built with hidden
// visibility, so every class or function in an installed header that user
// code calls and that is not entirely inline carries it; nothing else leaves
// the library.
#pragma once

#define DPOOL_API __attribute__((visibility("default")))
