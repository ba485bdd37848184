/* The native front of `ns` (front/main.c): what its pieces share. */
#ifndef NS_FRONT_H
#define NS_FRONT_H

/* A verb's "not mine": the front hands the call to Node unchanged. */
#define FALL_BACK (-1)

/* The record verbs (verbs.c); `dir` is <root>/<id>. Exit status, or FALL_BACK. */
int verb_state(const char *dir);
int verb_kill(const char *dir, const char *signame);
int verb_start(const char *dir);
int verb_delete(const char *dir);

#endif
