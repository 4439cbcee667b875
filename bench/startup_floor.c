/*
 * The start-up floor for bench/signatures.sh: start libgit2 and stop, nothing
 * else. Linked the ways the bench says, it is what any hook built on libgit2
 * pays before it reads one object. With an argument, it does not even start
 * libgit2 (the cost of loading the program alone).
 */
#include <git2.h>

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return 0;
	if (git_libgit2_init() < 0)
		return 1;
	git_libgit2_shutdown();
	return 0;
}
