/* tutorial_1_coroutines: step 1 of docs/tutorial.md.

   Three ideas that everything else builds on: go() starts a coroutine,
   channels pass values between coroutines, and every blocking call takes a
   deadline.  hclose() on a coroutine's handle cancels it: its blocking call
   fails with ECANCELED and it returns.

   Usage: tutorial_1_coroutines */

#include <errno.h>
#include <stdio.h>

#include <libdill.h>

/* Sends a tick every 100 ms until it is cancelled. */
coroutine static void ticker(int ch) {
    for(int i = 1;; i++) {
        if(msleep(now() + 100) < 0) return;          /* ECANCELED */
        if(chsend(ch, &i, sizeof(i), -1) < 0) return;
    }
}

int main(void) {
    int ch[2];
    if(chmake(ch) < 0) {perror("chmake"); return 1;}
    int t = go(ticker(ch[1]));
    if(t < 0) {perror("go"); return 1;}
    /* Receive ticks for half a second: the deadline ends the loop. */
    int64_t deadline = now() + 550;
    int tick;
    while(chrecv(ch[0], &tick, sizeof(tick), deadline) == 0)
        printf("tick %d\n", tick);
    printf("chrecv: %s\n", errno == ETIMEDOUT ? "deadline reached" :
        "failed");
    hclose(t);             /* cancels the ticker and waits for it */
    hclose(ch[0]);
    hclose(ch[1]);
    return 0;
}
