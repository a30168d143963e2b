/* A third-party program that merely *mentions* Kaspersky, as malware probing for antivirus
 * does: the names sit in its data, wide and narrow, but the program is not Kaspersky's. */
__attribute__((used)) static const char probes[] =
    "\\SystemRoot\\System32\\drivers\\klif.sys\0avp.exe\0Kaspersky Lab\0"
    "SOFTWARE\\KasperskyLab\\protected\\AVP7\0";
__attribute__((used)) static const unsigned short company[] = {
    'A', 'O', ' ', 'K', 'a', 's', 'p', 'e', 'r', 's', 'k', 'y', ' ', 'L', 'a', 'b', 0};

int mainCRTStartup(void)
{
    return probes[0] + company[0] == 0;
}
