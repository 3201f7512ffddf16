/* qemu-user and exec: a program that starts itself again (posix_spawn of
   argv[0], as tests/ws_gather.c does) fails under qemu-user unless
   binfmt_misc routes the foreign binary back to the emulator: the host
   kernel cannot run it.  Exit status 1 when the child did not run. */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char *argv[]) {
    if(argc == 2 && strcmp(argv[1], "child") == 0) return 42;
    char *args[] = {argv[0], "child", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], NULL, NULL, args, environ);
    int status = 0;
    if(rc == 0 && waitpid(pid, &status, 0) != pid) return 2;
    int ran = rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 42;
    printf("spawn_self: posix_spawn: %d, child %s (exit status %d)\n", rc,
        ran ? "ran" : "DID NOT RUN", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return ran ? 0 : 1;
}
