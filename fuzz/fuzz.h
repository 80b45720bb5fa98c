/* The libFuzzer entry point every harness in fuzz/ defines. Each harness is built twice: with
 * libFuzzer (RQ_FUZZ=ON, clang) and with replay_main.c as an ordinary test that runs the
 * committed corpus through it with any compiler. */
#ifndef RQ_FUZZ_FUZZ_H
#define RQ_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
