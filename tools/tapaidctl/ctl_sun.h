/*
 * ctl_sun.h - "tapaidctl sun ..." diagnostic commands (card SUN messages).
 */
#ifndef TAPAID_CTL_SUN_H
#define TAPAID_CTL_SUN_H

/*
 * tapaidctl sun verify --meta-key FILE --file-key FILE URL_OR_QUERY
 * argv[0] is "verify".  Prints "uid=<14 hex> ctr=<decimal>" and returns 0
 * when the CMAC is right, 1 when it is not (or a key file cannot be used),
 * 2 on bad usage (missing option, extra argument, malformed URL).  Errors
 * go to stderr as one line.
 */
int ctl_sun_verify(int argc, char **argv);

/* Prints the usage lines of "sun" to f (a FILE *). */
void ctl_sun_usage(void *f);

#endif
