using SharpTune.Runtime;
using SharpTune.Runtime.Elf;

namespace SharpTune.Tests.Runtime;

public sealed class LibStdCxxMarkerPatchTests
{
    private static string OriginalShim => TorchRuntime.FindShim(AppContext.BaseDirectory);

    [Fact]
    public void Elf_hash_matches_the_values_in_real_version_tables()
    {
        // Every vna_hash written by the linker into TorchSharp's shim must equal our hash of its name.
        var needs = ElfImage.Load(OriginalShim).VersionNeeds();
        Assert.NotEmpty(needs);
        Assert.All(needs, n => Assert.Equal(n.Hash, ElfHash.Compute(n.Name)));
    }

    [Fact]
    public void The_original_shim_requires_the_marker_version_through_one_unrelocated_symbol()
    {
        var image = ElfImage.Load(OriginalShim);
        var marker = Assert.Single(image.VersionNeeds(), n => n.Name == LibStdCxxMarkerPatch.MarkerVersion);
        Assert.Equal("libstdc++.so.6", marker.File);
        var bound = image.DynamicSymbols().Where(s => s.VersionIndex == marker.Index).ToList();
        Assert.Equal(LibStdCxxMarkerPatch.MarkerSymbol, Assert.Single(bound).Name);
        Assert.True(LibStdCxxMarkerPatch.RequiresMarkerVersion(image));
    }

    [Fact]
    public void The_compatible_copy_differs_only_in_the_one_version_requirement()
    {
        byte[] original = File.ReadAllBytes(OriginalShim);
        byte[] patched = LibStdCxxMarkerPatch.CreateCompatibleImage(original, OriginalShim);
        var marker = ElfImage.Parse(original).VersionNeeds().Single(n => n.Name == LibStdCxxMarkerPatch.MarkerVersion);

        Assert.Equal(original.Length, patched.Length);
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        Assert.NotEmpty(changed);
        Assert.All(changed, i => Assert.InRange((ulong)i, marker.AuxFileOffset, marker.AuxFileOffset + 15));

        var image = ElfImage.Parse(patched);
        var needs = image.VersionNeeds();
        Assert.DoesNotContain(needs, n => n.Name == LibStdCxxMarkerPatch.MarkerVersion);
        var rewritten = needs.Single(n => n.AuxFileOffset == marker.AuxFileOffset);
        Assert.Equal(LibStdCxxMarkerPatch.ReplacementVersion, rewritten.Name);
        Assert.Equal(ElfHash.Compute(LibStdCxxMarkerPatch.ReplacementVersion), rewritten.Hash);
        Assert.False(LibStdCxxMarkerPatch.RequiresMarkerVersion(image));
    }

    [Fact]
    public void Readelf_agrees_with_our_reader_about_the_patched_copy()
    {
        string dir = Directory.CreateTempSubdirectory("sharptune-elf-").FullName;
        string patchedPath = TorchRuntime.EnsureCompatibleShim(OriginalShim, dir);
        var readelf = ProcessRunner.Run("readelf", "-V", patchedPath);
        if (readelf is null)
        {
            Assert.Skip("readelf is not installed");
        }

        Assert.DoesNotContain("GLIBCXX_3.4.32", readelf);
        Assert.Contains("GLIBCXX_3.4.30", readelf);
        string original = ProcessRunner.Run("readelf", "-V", OriginalShim)!;
        Assert.Contains("GLIBCXX_3.4.32", original);
    }

    [Fact]
    public void The_system_libstdcxx_is_read_from_the_process()
    {
        var system = SystemLibStdCxx.TryFind();
        Assert.NotNull(system);
        Assert.Contains("libstdc++.so", system!.Path);
        Assert.Contains("GLIBCXX_3.4", system.Versions);
        Assert.StartsWith("GLIBCXX_3.4.", system.NewestGlibcxx);
    }

    [Fact]
    public void Non_elf_input_is_rejected_clearly()
    {
        var error = Assert.Throws<InvalidDataException>(() => ElfImage.Parse(new byte[100], "junk.so"));
        Assert.Equal("junk.so: not an ELF file", error.Message);
        var truncated = File.ReadAllBytes(OriginalShim)[..200];
        Assert.Throws<InvalidDataException>(() => ElfImage.Parse(truncated, "cut.so"));
    }
}
