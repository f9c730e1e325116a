namespace SharpTune.Runtime.Elf;

/// <summary>A dynamic symbol and its version index (<c>.gnu.version</c>).</summary>
public sealed record ElfDynamicSymbol(string Name, ushort VersionIndex, bool IsUndefined);
