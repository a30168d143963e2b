/* A kernel-mode image with the shape of a Windows file-system filter driver: subsystem NATIVE,
 * one entry point, no imports. It does nothing; evict only reads its headers and resources. */
typedef long NTSTATUS;

NTSTATUS DriverEntry(void *driver_object, void *registry_path)
{
    (void)driver_object;
    (void)registry_path;
    return 0;
}
