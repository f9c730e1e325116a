namespace SharpTune.Runtime.Elf;

/// <summary>
/// One <c>Elf64_Vernaux</c> entry of <c>.gnu.version_r</c>: the object needs version <see cref="Name"/> of
/// <see cref="File"/>; symbols tagged with <see cref="Index"/> in <c>.gnu.version</c> bind to that version.
/// </summary>
public sealed record ElfVersionNeed(string File, string Name, uint Hash, ushort Index, uint NameOffset, ulong AuxFileOffset);
