/* libFuzzer target: github webhook payloads, signed as github signs them (payload_common.h). */
#include "payload_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_payload(GG_SRC_GITHUB, data, size);
}
