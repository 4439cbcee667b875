/*
 * The commit a target is about to deploy, checked against the target's
 * verify: keys. Called wherever a target has fetched that commit itself (the
 * checkout child, between the fetch and the release switch), never on a
 * payload's word: a payload names commits, it does not vouch for them.
 */
#ifndef GITGATED_DEPLOY_VERIFY_H
#define GITGATED_DEPLOY_VERIFY_H

/*
 * Is commit (hex), present in the bare repository `repo_dir`, signed by a
 * key of allowed_signers and/or gpg_keyring (either may be NULL, not both)?
 * 0 when it is; 1 when it is not, with why in *reason (allocated, one
 * escaped line: "unsigned: ...", "unknown key: ... (key SHA256:...)"); -1
 * with *err (allocated) when the keys or the commit cannot be read. The key
 * files are read on each call. Key validity is judged at the commit's
 * committer time, as git verify-commit does: the gate judged it at push time.
 */
int gg_deploy_verify(const char *repo_dir, const char *commit, const char *allowed_signers,
                     const char *gpg_keyring, char **reason, char **err);

#endif
