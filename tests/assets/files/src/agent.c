/* A console program with no C runtime: the smallest real Windows executable that carries a
 * version resource and an Authenticode signature. */
int mainCRTStartup(void)
{
    return 0;
}
