using SharpTune.Runtime;

namespace SharpTune.Tests.Runtime;

public sealed class LibTorchLocatorTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void A_directory_that_does_not_exist_is_a_one_line_error_naming_the_setting()
    {
        var error = Assert.Throws<SharpTuneException>(() =>
            LibTorchLocator.Locate(null, AppContext.BaseDirectory, name => name == "SHARPTUNE_LIBTORCH" ? "/no/such/libtorch" : null));
        Assert.Equal("SHARPTUNE_LIBTORCH=/no/such/libtorch: directory does not exist", error.Message);
    }

    [Fact]
    public void A_directory_without_libtorch_is_rejected()
    {
        string empty = Directory.CreateTempSubdirectory("sharptune-empty-").FullName;
        var error = Assert.Throws<SharpTuneException>(() => LibTorchLocator.Locate(empty, AppContext.BaseDirectory, NoEnvironment));
        Assert.StartsWith($"--libtorch={empty}: no libtorch_cpu.so there", error.Message);
    }

    [Fact]
    public void The_option_wins_over_the_environment_and_a_root_folder_resolves_to_its_lib_folder()
    {
        string root = Directory.CreateTempSubdirectory("sharptune-torch-").FullName;
        Directory.CreateDirectory(Path.Combine(root, "lib"));
        File.WriteAllText(Path.Combine(root, "lib", "libtorch_cpu.so"), "");
        File.WriteAllText(Path.Combine(root, "version.py"), "__version__ = '2.11.0+cu130'\ngit_version = 'x'\n");
        var location = LibTorchLocator.Locate(root, AppContext.BaseDirectory, _ => "/elsewhere");
        Assert.Equal(Path.Combine(root, "lib"), location.Directory);
        Assert.Equal(LibTorchOrigin.Option, location.Origin);
        Assert.Equal("2.11.0+cu130", location.Version);
        Assert.False(location.HasCuda);
    }

    [Fact]
    public void The_bundled_natives_are_found_beside_the_application()
    {
        var location = LibTorchLocator.Locate(null, AppContext.BaseDirectory, NoEnvironment);
        Assert.Equal(LibTorchOrigin.Bundled, location.Origin);
        Assert.True(File.Exists(Path.Combine(location.Directory, "libtorch_cpu.so")));
    }

    [Fact]
    public void Python_discovery_reads_torchs_lib_folder_from_the_interpreter()
    {
        string root = Directory.CreateTempSubdirectory("sharptune-py-").FullName;
        string lib = Path.Combine(root, "site-packages", "torch", "lib");
        Directory.CreateDirectory(lib);
        File.WriteAllText(Path.Combine(lib, "libtorch_cpu.so"), "");
        File.WriteAllText(Path.Combine(lib, "libtorch_cuda.so"), "");
        string fakePython = Path.Combine(root, "python3");
        // A stand-in interpreter that answers the discovery script the way PyTorch's python3 does.
        File.WriteAllText(fakePython, $"#!/bin/sh\necho '{lib}'\necho '2.11.0+cu130'\n");
        File.SetUnixFileMode(fakePython, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        string emptyApp = Directory.CreateTempSubdirectory("sharptune-app-").FullName;
        var location = LibTorchLocator.Locate(null, emptyApp, name => name == "SHARPTUNE_PYTHON" ? fakePython : null);
        Assert.Equal(LibTorchOrigin.Python, location.Origin);
        Assert.Equal(lib, location.Directory);
        Assert.Equal("2.11.0+cu130", location.Version);
        Assert.True(location.HasCuda);
    }

    [Fact]
    public void Without_bundled_natives_or_python_torch_the_error_says_what_to_do()
    {
        string emptyApp = Directory.CreateTempSubdirectory("sharptune-app-").FullName;
        var error = Assert.Throws<SharpTuneException>(() =>
            LibTorchLocator.Locate(null, emptyApp, name => name == "SHARPTUNE_PYTHON" ? "/no/such/python3" : null));
        Assert.Contains("no libtorch found", error.Message);
        Assert.Contains("/no/such/python3 is not installed", error.Message);
        Assert.Contains("SHARPTUNE_LIBTORCH", error.Message);
    }

    [Fact]
    public void A_libtorch_that_is_not_loadable_gives_the_loaders_reason()
    {
        string dir = Directory.CreateTempSubdirectory("sharptune-bad-").FullName;
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            File.WriteAllText(Path.Combine(dir, name), "this is not a shared library");
        }

        var error = Assert.Throws<SharpTuneException>(() =>
            TorchRuntime.LoadLibTorch(new LibTorchLocation(dir, LibTorchOrigin.Environment, null)));
        Assert.StartsWith($"libtorch at {dir} cannot be loaded: ", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("libc10.so", error.Message);
    }
}
