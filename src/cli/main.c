/* main.c — placeholder entry point, replaced by the real CLI. */
#include <stdio.h>
int main(void) { puts("mlplane"); return 0; }
