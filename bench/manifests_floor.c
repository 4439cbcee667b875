/*
 * The floor for bench/manifests.sh: read every blob OLD..NEW adds or changes
 * (libgit2 tree-to-tree diff) and run libyaml's event parser over it, nothing
 * else. No tree, no rules: what any YAML-validating hook must at least pay.
 * usage: manifests_floor GIT_DIR OLD NEW   (prints documents and bytes)
 */
#include <git2.h>
#include <stdio.h>
#include <yaml.h>

int main(int argc, char **argv)
{
	git_repository *repo;
	git_object *o, *n;
	git_tree *ot, *nt;
	git_diff *diff;
	unsigned long docs = 0, bytes = 0;
	if (argc != 4)
		return 2;
	git_libgit2_init();
	if (git_repository_open(&repo, argv[1]) < 0 || git_revparse_single(&o, repo, argv[2]) < 0 ||
	    git_revparse_single(&n, repo, argv[3]) < 0 ||
	    git_object_peel((git_object **)&ot, o, GIT_OBJECT_TREE) < 0 ||
	    git_object_peel((git_object **)&nt, n, GIT_OBJECT_TREE) < 0 ||
	    git_diff_tree_to_tree(&diff, repo, ot, nt, NULL) < 0) {
		fprintf(stderr, "floor: %s\n", git_error_last()->message);
		return 2;
	}
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		git_blob *b;
		if (d->status == GIT_DELTA_DELETED ||
		    git_blob_lookup(&b, repo, &d->new_file.id) < 0)
			continue;
		yaml_parser_t p;
		yaml_event_t ev;
		yaml_parser_initialize(&p);
		yaml_parser_set_input_string(&p, git_blob_rawcontent(b),
		                             (size_t)git_blob_rawsize(b));
		bytes += (unsigned long)git_blob_rawsize(b);
		for (;;) {
			if (!yaml_parser_parse(&p, &ev))
				break;
			int end = ev.type == YAML_STREAM_END_EVENT;
			docs += ev.type == YAML_DOCUMENT_START_EVENT;
			yaml_event_delete(&ev);
			if (end)
				break;
		}
		yaml_parser_delete(&p);
		git_blob_free(b);
	}
	printf("%lu documents, %lu bytes\n", docs, bytes);
	return 0;
}
