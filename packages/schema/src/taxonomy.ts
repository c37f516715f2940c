/**
 * The Sigma taxonomy for the log categories ring3 produces (its sensors) or reads (EVTX, Sysmon for Linux),
 * declared once as data. Field names are the taxonomy's, verbatim: "The field names follow the field names used
 * in Sysmon events" (sigma-appendix-taxonomy.md, Process Creation Events), and every other category "align[s]
 * our field names to the field names that Sysmon uses". Field lists follow SigmaHQ's `tests-data/logsource.json`
 * (the names the SigmaHQ validators accept), both its `legit` and its `addon` (enrichment) lists.
 */

export const VALUE_KINDS = ["string", "number", "ip", "path", "hash", "time", "bool"] as const;
/** What a field holds: `path` a file, registry or device path; `hash` a digest or Sysmon's `ALGO=hex,…` list. */
export type ValueKind = (typeof VALUE_KINDS)[number];

export type FieldSpec = { readonly kind: ValueKind; readonly meaning: string };
export type CategorySpec = Readonly<Record<string, FieldSpec>>;

// Fragments shared by several categories. Spreading them keeps one definition per field.

/** Every Sysmon event starts with these (`<Data Name="RuleName">-</Data><Data Name="UtcTime">…`). */
const sysmonHeader = {
  RuleName: { kind: "string", meaning: "Name of the Sysmon configuration rule that selected the event, `-` if none" },
  UtcTime: { kind: "time", meaning: "When Sysmon saw the activity, UTC, `YYYY-MM-DD hh:mm:ss.fff`" },
} as const;

/** The process that did the thing, as Sysmon names it in most events. */
const actor = {
  ProcessGuid: { kind: "string", meaning: "Sysmon's unique id of the acting process, `{…}` GUID" },
  ProcessId: { kind: "number", meaning: "PID of the acting process" },
  Image: { kind: "path", meaning: "Full path of the acting process's executable" },
  User: { kind: "string", meaning: "Account the acting process runs as, `DOMAIN\\name`" },
} as const;

/** PE version resource of an image, as Sysmon reports it for process creation and image load. */
const peInfo = {
  FileVersion: { kind: "string", meaning: "FileVersion from the image's version resource" },
  Description: { kind: "string", meaning: "FileDescription from the image's version resource" },
  Product: { kind: "string", meaning: "ProductName from the image's version resource" },
  Company: { kind: "string", meaning: "CompanyName from the image's version resource" },
  OriginalFileName: { kind: "string", meaning: "OriginalFilename from the image's version resource" },
} as const;

const hashes = {
  Hashes: { kind: "hash", meaning: "Digests of the file, `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` as configured" },
} as const;

const signature = {
  Signed: { kind: "bool", meaning: "Whether the image carries a signature" },
  Signature: { kind: "string", meaning: "Subject name of the signer" },
  SignatureStatus: { kind: "string", meaning: "Signature verification result (`Valid`, `Expired`, …)" },
} as const;

const targetFile = {
  TargetFilename: { kind: "path", meaning: "Full path of the file acted on" },
} as const;

/** Context of the acting process that ring3 adds to non-process events (logsource.json `addon`). */
const actorContext = {
  CommandLine: { kind: "string", meaning: "Command line of the acting process (ring3 enrichment)" },
  ParentImage: { kind: "path", meaning: "Executable of the acting process's parent (ring3 enrichment)" },
  ParentCommandLine: { kind: "string", meaning: "Command line of the acting process's parent (ring3 enrichment)" },
} as const;

const processCreation = {
  ...sysmonHeader,
  ...actor,
  ...peInfo,
  ...hashes,
  CommandLine: { kind: "string", meaning: "Command line of the new process" },
  CurrentDirectory: { kind: "path", meaning: "Working directory of the new process" },
  LogonGuid: { kind: "string", meaning: "Sysmon's GUID of the logon session the process belongs to" },
  LogonId: { kind: "string", meaning: "Logon session id (LUID), hex like `0x3e7`" },
  TerminalSessionId: { kind: "number", meaning: "Terminal Services session id (0 for services)" },
  IntegrityLevel: { kind: "string", meaning: "Mandatory integrity level: `Low`, `Medium`, `High`, `System`" },
  ParentProcessGuid: { kind: "string", meaning: "Sysmon's unique id of the parent process" },
  ParentProcessId: { kind: "number", meaning: "PID of the parent process" },
  ParentImage: { kind: "path", meaning: "Full path of the parent's executable" },
  ParentCommandLine: { kind: "string", meaning: "Command line of the parent process" },
  ParentUser: { kind: "string", meaning: "Account the parent process runs as" },
} as const;

const networkConnection = {
  ...sysmonHeader,
  ...actor,
  Protocol: { kind: "string", meaning: "Transport protocol, `tcp` or `udp`" },
  Initiated: { kind: "bool", meaning: "True when the local process opened the connection (outbound)" },
  SourceIsIpv6: { kind: "bool", meaning: "Whether the source address is IPv6" },
  SourceIp: { kind: "ip", meaning: "Source IP address" },
  SourceHostname: { kind: "string", meaning: "Reverse-resolved name of the source address" },
  SourcePort: { kind: "number", meaning: "Source port" },
  SourcePortName: { kind: "string", meaning: "Service name of the source port" },
  DestinationIsIpv6: { kind: "bool", meaning: "Whether the destination address is IPv6" },
  DestinationIp: { kind: "ip", meaning: "Destination IP address" },
  DestinationHostname: { kind: "string", meaning: "Reverse-resolved name of the destination address" },
  DestinationPort: { kind: "number", meaning: "Destination port" },
  DestinationPortName: { kind: "string", meaning: "Service name of the destination port (`https`…)" },
} as const;

const processTermination = { ...sysmonHeader, ...actor } as const;

const fileEvent = {
  ...sysmonHeader,
  ...actor,
  ...targetFile,
  CreationUtcTime: { kind: "time", meaning: "Creation time the file has (UTC)" },
} as const;

const fileDelete = {
  ...sysmonHeader,
  ...actor,
  ...targetFile,
  ...hashes,
  IsExecutable: { kind: "bool", meaning: "Whether the deleted file is a PE image" },
} as const;

const archived = {
  Archived: { kind: "bool", meaning: "Whether Sysmon kept a copy in its archive directory" },
} as const;

const rawAccess = {
  ...sysmonHeader,
  ...actor,
  Device: { kind: "path", meaning: "Device read directly, e.g. `\\Device\\HarddiskVolume2`" },
} as const;

const sysmonConfig = {
  Configuration: { kind: "path", meaning: "Path of the Sysmon configuration file loaded" },
  ConfigurationFileHash: { kind: "hash", meaning: "Digest of that configuration file" },
} as const;

const registry = {
  ...sysmonHeader,
  ...actor,
  EventType: { kind: "string", meaning: "Operation: `CreateKey`, `DeleteKey`, `DeleteValue`, `SetValue`, `RenameKey`" },
  TargetObject: { kind: "path", meaning: "Registry key or value path, `HKLM\\…` / `HKU\\…`" },
} as const;

const registryDetails = {
  Details: { kind: "string", meaning: "Data written, as Sysmon renders it (`DWORD (0x00000001)`, the string…)" },
} as const;

const registryNewName = {
  NewName: { kind: "path", meaning: "New path of a renamed key" },
} as const;

/** Fields Windows PowerShell "classic" events carry: unnamed `<Data>` items, read as one list. */
const psClassic = {
  Data: {
    kind: "string",
    meaning: "The event's unnamed data items (engine state, provider, `HostApplication=…` text)",
  },
} as const;

/** Kernel-File ETW (Microsoft-Windows-Kernel-File), which ring3 reads for file_access and file_rename. */
const kernelFile = {
  Irp: { kind: "string", meaning: "Address of the I/O request packet" },
  FileObject: { kind: "string", meaning: "Address of the kernel file object" },
  IssuingThreadId: { kind: "number", meaning: "Thread that issued the request" },
} as const;

const kernelFileActorContext = {
  Image: actor.Image,
  User: actor.User,
  ...actorContext,
} as const;

export const WINDOWS_SYSTEM_FIELDS = {
  EventID: { kind: "number", meaning: "Event identifier within the provider" },
  Provider_Name: { kind: "string", meaning: "Name of the provider that wrote the event" },
  Provider_Guid: { kind: "string", meaning: "GUID of the provider that wrote the event" },
  EventSourceName: { kind: "string", meaning: "Classic event source name, when the provider has one" },
  Channel: { kind: "string", meaning: "Event log channel (`Security`, `Microsoft-Windows-Sysmon/Operational`…)" },
  Computer: { kind: "string", meaning: "Name of the computer that logged the event" },
  EventRecordID: { kind: "number", meaning: "Record number of the event in its log" },
  Version: { kind: "number", meaning: "Version of the event's template" },
  Level: { kind: "number", meaning: "Severity: 1 critical, 2 error, 3 warning, 4 information, 5 verbose" },
  Task: { kind: "number", meaning: "Provider-defined task (category) number" },
  Opcode: { kind: "number", meaning: "Provider-defined opcode" },
  Keywords: { kind: "string", meaning: "Keyword bit mask, hex like `0x8020000000000000`" },
  TimeCreated: { kind: "time", meaning: "When the event was logged (System/TimeCreated/@SystemTime)" },
  ProcessID: { kind: "number", meaning: "PID of the process that logged the event (System/Execution)" },
  ThreadID: { kind: "number", meaning: "Thread that logged the event (System/Execution)" },
  UserID: { kind: "string", meaning: "SID in System/Security/@UserID" },
  Security_UserID: { kind: "string", meaning: "Same SID, under the name SigmaHQ's logsource.json uses" },
  ActivityID: { kind: "string", meaning: "Correlation activity GUID" },
  RelatedActivityID: { kind: "string", meaning: "Correlation GUID of the related (parent) activity" },
} as const;

export const WINDOWS_TAXONOMY = {
  process_creation: {
    ...processCreation,
    GrandParentImage: { kind: "path", meaning: "Executable of the parent's parent (ring3 enrichment)" },
    GrandparentCommandLine: { kind: "string", meaning: "Command line of the parent's parent (ring3 enrichment)" },
    md5: { kind: "hash", meaning: "MD5 of the image, when split out of Hashes" },
    sha1: { kind: "hash", meaning: "SHA-1 of the image, when split out of Hashes" },
    sha256: { kind: "hash", meaning: "SHA-256 of the image, when split out of Hashes" },
    imphash: { kind: "hash", meaning: "Import hash of the image, when split out of Hashes" },
  },
  process_termination: processTermination,
  network_connection: { ...networkConnection, ...actorContext },
  dns_query: {
    ...sysmonHeader,
    ...actor,
    QueryName: { kind: "string", meaning: "Name looked up" },
    QueryStatus: { kind: "number", meaning: "Win32 status of the lookup (0 success, 9003 name does not exist…)" },
    QueryResults: { kind: "string", meaning: "Answers, `;`-separated (`type: 5 alias;::ffff:10.0.0.1;`)" },
  },
  file_event: {
    ...fileEvent,
    ...actorContext,
    IntegrityLevel: processCreation.IntegrityLevel,
    MagicHeader: { kind: "string", meaning: "First bytes of the file, hex (ring3 enrichment)" },
  },
  file_change: {
    ...fileEvent,
    PreviousCreationUtcTime: { kind: "time", meaning: "Creation time the file had before the change (UTC)" },
  },
  file_delete: { ...fileDelete, ...archived, ...actorContext },
  file_delete_detected: fileDelete,
  file_executable_detected: { ...sysmonHeader, ...actor, ...targetFile, ...hashes },
  file_block_executable: { ...sysmonHeader, ...actor, ...targetFile, ...hashes },
  file_block_shredding: fileDelete,
  file_rename: {
    ...kernelFile,
    ...kernelFileActorContext,
    FileKey: { kind: "string", meaning: "Kernel file key (stream context address)" },
    ExtraInformation: { kind: "string", meaning: "Extra status information of the request" },
    InfoClass: { kind: "number", meaning: "FILE_INFORMATION_CLASS of the set-information request" },
    FilePath: { kind: "path", meaning: "Path of the file as Kernel-File reports it" },
    SourceFilename: { kind: "path", meaning: "Path before the rename" },
    TargetFilename: { kind: "path", meaning: "Path after the rename" },
    OriginalFileName: peInfo.OriginalFileName,
    MagicHeader: { kind: "string", meaning: "First bytes of the file, hex (ring3 enrichment)" },
  },
  file_access: {
    ...kernelFile,
    ...kernelFileActorContext,
    CreateOptions: { kind: "number", meaning: "CreateOptions of the open request (NtCreateFile)" },
    CreateAttributes: { kind: "number", meaning: "File attributes requested at open" },
    ShareAccess: { kind: "number", meaning: "Share mode requested at open" },
    FileName: { kind: "path", meaning: "Path of the file opened" },
    TargetFilename: { kind: "path", meaning: "Path of the file opened, under the Sysmon name (ring3 enrichment)" },
  },
  image_load: {
    ...sysmonHeader,
    ...actor,
    ...peInfo,
    ...hashes,
    ...signature,
    ImageLoaded: { kind: "path", meaning: "Full path of the DLL or image loaded" },
    CommandLine: actorContext.CommandLine,
  },
  driver_load: {
    ...sysmonHeader,
    ...hashes,
    ...signature,
    ImageLoaded: { kind: "path", meaning: "Full path of the driver loaded" },
  },
  registry_add: registry,
  registry_delete: { ...registry, ...registryDetails },
  registry_set: { ...registry, ...registryDetails },
  registry_rename: { ...registry, ...registryNewName },
  registry_event: { ...registry, ...registryDetails, ...registryNewName },
  process_access: {
    ...sysmonHeader,
    SourceProcessGUID: { kind: "string", meaning: "Sysmon's id of the process opening the handle (GUID in caps)" },
    SourceProcessId: { kind: "number", meaning: "PID of the process opening the handle" },
    SourceThreadId: { kind: "number", meaning: "Thread that opened the handle" },
    SourceImage: { kind: "path", meaning: "Executable of the process opening the handle" },
    SourceUser: { kind: "string", meaning: "Account of the process opening the handle" },
    SourceCommandLine: { kind: "string", meaning: "Command line of the process opening the handle (enrichment)" },
    TargetProcessGUID: { kind: "string", meaning: "Sysmon's id of the process whose handle was opened" },
    TargetProcessId: { kind: "number", meaning: "PID of the process whose handle was opened" },
    TargetImage: { kind: "path", meaning: "Executable of the process whose handle was opened" },
    TargetUser: { kind: "string", meaning: "Account of the process whose handle was opened" },
    GrantedAccess: { kind: "string", meaning: "Access mask granted, hex like `0x1410`" },
    CallTrace: { kind: "string", meaning: "Stack of the OpenProcess call, `module+offset|…`" },
    CallTraceExtended: { kind: "string", meaning: "CallTrace with symbol names resolved (enrichment)" },
  },
  create_remote_thread: {
    ...sysmonHeader,
    SourceProcessGuid: { kind: "string", meaning: "Sysmon's id of the process creating the thread" },
    SourceProcessId: { kind: "number", meaning: "PID of the process creating the thread" },
    SourceImage: { kind: "path", meaning: "Executable of the process creating the thread" },
    SourceUser: { kind: "string", meaning: "Account of the process creating the thread" },
    TargetProcessGuid: { kind: "string", meaning: "Sysmon's id of the process the thread starts in" },
    TargetProcessId: { kind: "number", meaning: "PID of the process the thread starts in" },
    TargetImage: { kind: "path", meaning: "Executable of the process the thread starts in" },
    TargetUser: { kind: "string", meaning: "Account of the process the thread starts in" },
    NewThreadId: { kind: "number", meaning: "Id of the new thread" },
    StartAddress: { kind: "string", meaning: "Start address of the new thread, hex" },
    StartModule: { kind: "path", meaning: "Module containing the start address" },
    StartFunction: { kind: "string", meaning: "Exported function at the start address" },
    User: { kind: "string", meaning: "Account of the creating process (enrichment)" },
    SourceCommandLine: { kind: "string", meaning: "Command line of the creating process (enrichment)" },
    SourceParentProcessId: { kind: "number", meaning: "PID of the creating process's parent (enrichment)" },
    SourceParentImage: { kind: "path", meaning: "Executable of the creating process's parent (enrichment)" },
    SourceParentCommandLine: { kind: "string", meaning: "Command line of the creating process's parent (enrichment)" },
    TargetCommandLine: { kind: "string", meaning: "Command line of the target process (enrichment)" },
    TargetParentProcessId: { kind: "number", meaning: "PID of the target process's parent (enrichment)" },
    TargetParentImage: { kind: "path", meaning: "Executable of the target process's parent (enrichment)" },
    TargetParentCommandLine: { kind: "string", meaning: "Command line of the target process's parent (enrichment)" },
    IsInitialThread: { kind: "bool", meaning: "Whether the thread is the first of its process (enrichment)" },
    RemoteCreation: { kind: "bool", meaning: "Whether the creator is another process (enrichment)" },
  },
  raw_access_thread: rawAccess,
  pipe_created: {
    ...sysmonHeader,
    ...actor,
    EventType: { kind: "string", meaning: "`CreatePipe` (Sysmon 17) or `ConnectPipe` (Sysmon 18)" },
    PipeName: { kind: "string", meaning: "Name of the pipe, `\\name`" },
  },
  wmi_event: {
    ...sysmonHeader,
    EventType: { kind: "string", meaning: "`WmiFilterEvent`, `WmiConsumerEvent` or `WmiBindingEvent`" },
    Operation: { kind: "string", meaning: "`Created`, `Modified` or `Deleted`" },
    User: actor.User,
    EventNamespace: { kind: "string", meaning: "WMI namespace of the filter" },
    Name: { kind: "string", meaning: "Name of the filter or consumer" },
    Query: { kind: "string", meaning: "WQL query of the filter" },
    Type: { kind: "string", meaning: "Consumer type (`Command Line`, `Script`…)" },
    Destination: { kind: "string", meaning: "What the consumer runs (command line or script text)" },
    Consumer: { kind: "string", meaning: "Consumer path of a filter-to-consumer binding" },
    Filter: { kind: "string", meaning: "Filter path of a filter-to-consumer binding" },
  },
  ps_module: {
    ContextInfo: { kind: "string", meaning: "Host, engine and command context of the pipeline (4103)" },
    UserData: { kind: "string", meaning: "User data of the module event (4103)" },
    Payload: { kind: "string", meaning: "Commands and parameters run, one `CommandInvocation(…)` per line (4103)" },
  },
  ps_script: {
    MessageNumber: { kind: "number", meaning: "Part number of a script block logged in several parts" },
    MessageTotal: { kind: "number", meaning: "Number of parts of the script block" },
    ScriptBlockText: { kind: "string", meaning: "Text of the script block compiled" },
    ScriptBlockId: { kind: "string", meaning: "GUID of the script block" },
    Path: { kind: "path", meaning: "Script file the block came from, empty for interactive input" },
  },
  ps_classic_start: psClassic,
  ps_classic_provider_start: psClassic,
  ps_classic_script: psClassic,
  create_stream_hash: {
    ...fileEvent,
    Hash: { kind: "hash", meaning: "Digests of the stream content, in Hashes format" },
    Contents: { kind: "string", meaning: "Start of the stream content when small (e.g. Zone.Identifier text)" },
  },
  sysmon_error: {
    UtcTime: sysmonHeader.UtcTime,
    ID: { kind: "string", meaning: "Where in Sysmon the error happened" },
    Description: { kind: "string", meaning: "Error text" },
  },
  sysmon_status: {
    UtcTime: sysmonHeader.UtcTime,
    State: { kind: "string", meaning: "Service state (`Started`, `Stopped`)" },
    Version: { kind: "string", meaning: "Sysmon version" },
    SchemaVersion: { kind: "string", meaning: "Configuration schema version" },
    ...sysmonConfig,
  },
  clipboard_capture: {
    ...sysmonHeader,
    ...actor,
    ...hashes,
    Session: { kind: "number", meaning: "Session the clipboard belongs to" },
    ClientInfo: { kind: "string", meaning: "User and host of a remote session (`user: … ip: …`)" },
    Archived: { kind: "bool", meaning: "Whether Sysmon kept the clipboard content in its archive" },
  },
  // Sigma's product-less `antivirus` category (appendix, "Specific": `Filename`, `Signature`, `Action`), which
  // ring3 fills from Microsoft Defender detection events.
  antivirus: {
    Filename: { kind: "path", meaning: "Path of the file detected" },
    Signature: { kind: "string", meaning: "Name of the threat (`EICAR-Test-File`…)" },
    Action: { kind: "string", meaning: "What the antivirus did (`Quarantine`, `Delete`…)" },
  },
  process_tampering: {
    ...sysmonHeader,
    ...actor,
    Type: { kind: "string", meaning: "Kind of tampering (`Image is replaced`, `Image is locked for access`)" },
  },
} as const satisfies Readonly<Record<string, CategorySpec>>;

/** Sysmon for Linux emits the Sysmon schema unchanged, so Linux categories reuse the same fields. */
export const LINUX_TAXONOMY = {
  process_creation: processCreation,
  process_termination: processTermination,
  network_connection: networkConnection,
  file_event: fileEvent,
  file_delete: { ...fileDelete, ...archived },
  raw_access_read: rawAccess,
  sysmon_status: sysmonConfig,
} as const satisfies Readonly<Record<string, CategorySpec>>;

export const TAXONOMY = { windows: WINDOWS_TAXONOMY, linux: LINUX_TAXONOMY } as const;

export type TaxonomyProduct = keyof typeof TAXONOMY;
export type WindowsCategory = keyof typeof WINDOWS_TAXONOMY;
export type LinuxCategory = keyof typeof LINUX_TAXONOMY;

type KindValue = {
  readonly string: string;
  readonly number: number;
  readonly ip: string;
  readonly path: string;
  readonly hash: string;
  readonly time: string;
  readonly bool: boolean;
};

/** The TypeScript shape of a category's fields; every field is optional, as producers fill what they know. */
export type FieldsOf<S extends CategorySpec> = { readonly [K in keyof S]?: KindValue[S[K]["kind"]] };

export type WindowsFields<C extends WindowsCategory> = FieldsOf<(typeof WINDOWS_TAXONOMY)[C]>;
export type LinuxFields<C extends LinuxCategory> = FieldsOf<(typeof LINUX_TAXONOMY)[C]>;

export type ProcessCreationFields = WindowsFields<"process_creation">;
export type ProcessTerminationFields = WindowsFields<"process_termination">;
export type NetworkConnectionFields = WindowsFields<"network_connection">;
export type DnsQueryFields = WindowsFields<"dns_query">;
export type FileEventFields = WindowsFields<"file_event">;
export type FileChangeFields = WindowsFields<"file_change">;
export type FileDeleteFields = WindowsFields<"file_delete">;
export type FileRenameFields = WindowsFields<"file_rename">;
export type FileAccessFields = WindowsFields<"file_access">;
export type ImageLoadFields = WindowsFields<"image_load">;
export type DriverLoadFields = WindowsFields<"driver_load">;
export type RegistryEventFields = WindowsFields<"registry_event">;
export type ProcessAccessFields = WindowsFields<"process_access">;
export type CreateRemoteThreadFields = WindowsFields<"create_remote_thread">;
export type PipeCreatedFields = WindowsFields<"pipe_created">;
export type PsScriptFields = WindowsFields<"ps_script">;
export type PsModuleFields = WindowsFields<"ps_module">;
export type LinuxProcessCreationFields = LinuxFields<"process_creation">;
export type LinuxNetworkConnectionFields = LinuxFields<"network_connection">;
export type LinuxFileEventFields = LinuxFields<"file_event">;

/** The fields of a category (without the Windows System fields every event has), or undefined if unknown. */
export function categoryFields(category: string, product: TaxonomyProduct = "windows"): CategorySpec | undefined {
  const table: Readonly<Record<string, CategorySpec>> = TAXONOMY[product];
  return Object.hasOwn(table, category) ? table[category] : undefined;
}

/** Whether `name` is a taxonomy field of the category; on Windows the System fields count for every category. */
export function isKnownField(category: string, name: string, product: TaxonomyProduct = "windows"): boolean {
  if (product === "windows" && Object.hasOwn(WINDOWS_SYSTEM_FIELDS, name)) return true;
  const fields = categoryFields(category, product);
  return fields !== undefined && Object.hasOwn(fields, name);
}
