; Inno Setup script: PhotoClip-<version>-setup.exe from the PyInstaller build.
; On Windows, after `python installer\build.py` has made dist\PhotoClip\:
;   iscc /DAppVersion=0.1.0 installer\windows\photoclip.iss
; Installs for the current user without admin rights (or for everyone, if chosen), adds a
; Start menu entry and optionally a desktop icon. Uninstalling removes the program only:
; the user's catalog, settings and downloaded weights stay in their data folders.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "PhotoClip"
#define AppExe "PhotoClip.exe"
#define Root "..\.."

[Setup]
; AppId identifies PhotoClip to Windows across versions: never change it.
AppId={{6A0E5C4B-3F2D-4B8E-9C71-2D5B8F0A4E13}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=PhotoClip
AppComments=Search, tag and sort your photos by what they show
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\dist
OutputBaseFilename=PhotoClip-{#AppVersion}-setup
SetupIconFile={#Root}\resources\icons\photoclip.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Files]
Source: "{#Root}\dist\PhotoClip\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
