using System.Buffers.Binary;
using System.Text;

namespace SharpTune.Runtime.Elf;

/// <summary>
/// A read-only view of a 64-bit little-endian ELF shared object: its section headers, its dynamic symbols and
/// the GNU symbol-versioning tables (<c>.gnu.version</c>, <c>.gnu.version_r</c>, <c>.gnu.version_d</c>).
/// Only what SharpTune needs to reason about native libraries; every offset is bounds-checked.
/// </summary>
public sealed class ElfImage
{
    private const uint SectionTypeDynamicSymbols = 11;        // SHT_DYNSYM
    private const uint SectionTypeVersionDefinitions = 0x6ffffffd; // SHT_GNU_verdef
    private const uint SectionTypeVersionNeeds = 0x6ffffffe;  // SHT_GNU_verneed
    private const uint SectionTypeVersionSymbols = 0x6fffffff; // SHT_GNU_versym

    private readonly byte[] _bytes;

    private ElfImage(byte[] bytes, IReadOnlyList<ElfSection> sections)
    {
        _bytes = bytes;
        Sections = sections;
    }

    /// <summary>The section headers, in file order.</summary>
    public IReadOnlyList<ElfSection> Sections { get; }

    /// <summary>The raw bytes of the image (not a copy).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    public static ElfImage Load(string path) => Parse(File.ReadAllBytes(path), path);

    public static ElfImage Parse(byte[] bytes, string nameForErrors = "image")
    {
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
        {
            throw new InvalidDataException($"{nameForErrors}: not an ELF file");
        }

        if (bytes[4] != 2 || bytes[5] != 1)
        {
            throw new InvalidDataException($"{nameForErrors}: only 64-bit little-endian ELF files are supported");
        }

        var span = bytes.AsSpan();
        ulong sectionTableOffset = BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
        ushort sectionHeaderSize = BinaryPrimitives.ReadUInt16LittleEndian(span[58..]);
        ushort sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(span[60..]);
        if (sectionHeaderSize < 64 || sectionTableOffset + (ulong)sectionHeaderSize * sectionCount > (ulong)bytes.Length)
        {
            throw new InvalidDataException($"{nameForErrors}: section header table lies outside the file");
        }

        var sections = new ElfSection[sectionCount];
        for (int i = 0; i < sectionCount; i++)
        {
            var header = span.Slice((int)sectionTableOffset + i * sectionHeaderSize, 64);
            var section = new ElfSection(
                Index: i,
                Type: BinaryPrimitives.ReadUInt32LittleEndian(header[4..]),
                Offset: BinaryPrimitives.ReadUInt64LittleEndian(header[24..]),
                Size: BinaryPrimitives.ReadUInt64LittleEndian(header[32..]),
                Link: BinaryPrimitives.ReadUInt32LittleEndian(header[40..]),
                Info: BinaryPrimitives.ReadUInt32LittleEndian(header[44..]),
                EntrySize: BinaryPrimitives.ReadUInt64LittleEndian(header[56..]));
            // SHT_NOBITS (8) occupies no file bytes.
            if (section.Type != 8 && section.Offset + section.Size > (ulong)bytes.Length)
            {
                throw new InvalidDataException($"{nameForErrors}: section {i} lies outside the file");
            }

            sections[i] = section;
        }

        return new ElfImage(bytes, sections);
    }

    /// <summary>The versions this object requires from the libraries it links against (<c>.gnu.version_r</c>).</summary>
    public IReadOnlyList<ElfVersionNeed> VersionNeeds()
    {
        var section = FindSection(SectionTypeVersionNeeds);
        if (section is null)
        {
            return [];
        }

        var strings = Sections[(int)section.Link];
        var needs = new List<ElfVersionNeed>();
        ulong entry = section.Offset;
        for (uint n = 0; n < section.Info; n++)
        {
            ushort auxCount = U16(entry + 2);
            string file = ReadString(strings, U32(entry + 4));
            ulong aux = entry + U32(entry + 8);
            for (int a = 0; a < auxCount; a++)
            {
                needs.Add(new ElfVersionNeed(
                    File: file,
                    Name: ReadString(strings, U32(aux + 8)),
                    Hash: U32(aux),
                    Index: U16(aux + 6),
                    NameOffset: U32(aux + 8),
                    AuxFileOffset: aux));
                aux += U32(aux + 12);
            }

            uint next = U32(entry + 12);
            if (next == 0)
            {
                break;
            }

            entry += next;
        }

        return needs;
    }

    /// <summary>The version names this object defines (<c>.gnu.version_d</c>), e.g. GLIBCXX_3.4.30 for libstdc++.</summary>
    public IReadOnlyList<string> VersionDefinitions()
    {
        var section = FindSection(SectionTypeVersionDefinitions);
        if (section is null)
        {
            return [];
        }

        var strings = Sections[(int)section.Link];
        var names = new List<string>();
        ulong entry = section.Offset;
        for (uint n = 0; n < section.Info; n++)
        {
            ulong aux = entry + U32(entry + 12);
            names.Add(ReadString(strings, U32(aux)));
            uint next = U32(entry + 16);
            if (next == 0)
            {
                break;
            }

            entry += next;
        }

        return names;
    }

    /// <summary>Dynamic symbols with their version index from <c>.gnu.version</c> (0 = local, 1 = global).</summary>
    public IReadOnlyList<ElfDynamicSymbol> DynamicSymbols()
    {
        var symbols = FindSection(SectionTypeDynamicSymbols);
        if (symbols is null)
        {
            return [];
        }

        var strings = Sections[(int)symbols.Link];
        var versions = FindSection(SectionTypeVersionSymbols);
        int count = (int)(symbols.Size / 24);
        var result = new ElfDynamicSymbol[count];
        for (int i = 0; i < count; i++)
        {
            ulong at = symbols.Offset + (ulong)i * 24;
            ushort shndx = U16(at + 6);
            ushort version = versions is null ? (ushort)1 : (ushort)(U16(versions.Offset + (ulong)i * 2) & 0x7fff);
            result[i] = new ElfDynamicSymbol(ReadString(strings, U32(at)), version, IsUndefined: shndx == 0);
        }

        return result;
    }

    /// <summary>The offset of <paramref name="value"/> inside the string table of <paramref name="section"/>, if present.</summary>
    public bool TryFindString(ElfSection section, string value, out uint offset)
    {
        var table = _bytes.AsSpan((int)section.Offset, (int)section.Size);
        var needle = Encoding.ASCII.GetBytes(value + "\0");
        int start = 0;
        while (start < table.Length)
        {
            int found = table[start..].IndexOf(needle);
            if (found < 0)
            {
                break;
            }

            int at = start + found;
            if (at == 0 || table[at - 1] == 0)
            {
                offset = (uint)at;
                return true;
            }

            start = at + 1;
        }

        offset = 0;
        return false;
    }

    internal ElfSection? FindSection(uint type) => Sections.FirstOrDefault(s => s.Type == type);

    internal string ReadString(ElfSection table, uint offset)
    {
        if (offset >= table.Size)
        {
            throw new InvalidDataException($"string offset {offset} outside its table");
        }

        var span = _bytes.AsSpan((int)(table.Offset + offset), (int)(table.Size - offset));
        int end = span.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? span : span[..end]);
    }

    private ushort U16(ulong at) => at + 2 <= (ulong)_bytes.Length
        ? BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan((int)at))
        : throw new InvalidDataException($"ELF read at {at} outside the file");

    private uint U32(ulong at) => at + 4 <= (ulong)_bytes.Length
        ? BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan((int)at))
        : throw new InvalidDataException($"ELF read at {at} outside the file");
}
