using System.Buffers.Binary;
using SharpTune.Runtime.Elf;

namespace SharpTune.Runtime;

/// <summary>
/// Makes TorchSharp's <c>libLibTorchSharp.so</c> loadable on systems whose libstdc++ predates GCC 13 (Debian 12 ships
/// GLIBCXX_3.4.30). GCC 13 makes every object that includes &lt;iostream&gt; require <c>GLIBCXX_3.4.32</c> through one
/// marker symbol, <c>std::ios_base_library_init()</c>, that nothing calls and nothing relocates against. The patch
/// rewrites that single <c>Elf64_Vernaux</c> entry (its hash and its name offset) so that it names GLIBCXX_3.4.30, a
/// version the object already requires; no code or other byte changes.
/// </summary>
public static class LibStdCxxMarkerPatch
{
    public const string MarkerVersion = "GLIBCXX_3.4.32";
    public const string ReplacementVersion = "GLIBCXX_3.4.30";
    public const string MarkerSymbol = "_ZSt21ios_base_library_initv";

    /// <summary>True when the image requires <see cref="MarkerVersion"/> from libstdc++.</summary>
    public static bool RequiresMarkerVersion(ElfImage image) =>
        image.VersionNeeds().Any(n => n.Name == MarkerVersion && n.File.StartsWith("libstdc++", StringComparison.Ordinal));

    /// <summary>
    /// Returns a copy of <paramref name="original"/> whose GLIBCXX_3.4.32 requirement names GLIBCXX_3.4.30. Fails
    /// when any symbol other than the marker binds to GLIBCXX_3.4.32: then the library truly needs the newer libstdc++.
    /// </summary>
    public static byte[] CreateCompatibleImage(byte[] original, string nameForErrors)
    {
        var image = ElfImage.Parse(original, nameForErrors);
        var need = image.VersionNeeds().FirstOrDefault(n => n.Name == MarkerVersion)
            ?? throw new InvalidDataException($"{nameForErrors}: does not require {MarkerVersion}; nothing to patch");

        var bound = image.DynamicSymbols().Where(s => s.VersionIndex == need.Index).Select(s => s.Name).ToList();
        if (bound.Any(name => name != MarkerSymbol))
        {
            throw new InvalidDataException(
                $"{nameForErrors}: symbols other than {MarkerSymbol} need {MarkerVersion} ({string.Join(", ", bound.Take(3))}); " +
                "a newer libstdc++ is required");
        }

        var verneed = image.Sections.First(s => s.Type == 0x6ffffffe);
        var strings = image.Sections[(int)verneed.Link];
        if (!image.TryFindString(strings, ReplacementVersion, out uint replacementOffset))
        {
            throw new InvalidDataException($"{nameForErrors}: {ReplacementVersion} is not in its string table");
        }

        var patched = (byte[])original.Clone();
        var aux = patched.AsSpan((int)need.AuxFileOffset, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(aux, ElfHash.Compute(ReplacementVersion));
        BinaryPrimitives.WriteUInt32LittleEndian(aux[8..], replacementOffset);
        return patched;
    }
}
