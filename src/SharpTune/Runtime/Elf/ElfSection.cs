namespace SharpTune.Runtime.Elf;

/// <summary>One ELF64 section header.</summary>
public sealed record ElfSection(int Index, uint Type, ulong Offset, ulong Size, uint Link, uint Info, ulong EntrySize);
