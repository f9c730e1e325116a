using SharpTune.Kernels.MultiTensor;
using static TorchSharp.torch;

namespace SharpTune.Tests.Kernels;

public sealed class MultiTensorTableTests
{
    private static MultiTensorRow Row(long id, long elements) => new((nint)(id * 1000), (nint)(id * 1000 + 1), (nint)(id * 1000 + 2),
        (nint)(id * 1000 + 3), (nint)(id * 1000 + 4), (nint)(id * 1000 + 5), elements);

    [Fact]
    public void Rows_hold_the_addresses_elements_and_first_block_and_empty_tensors_are_left_out()
    {
        // Blocks of 256: 256 -> 1, 1 -> 1, 0 -> none (left out), 1000 -> 4, 257 -> 2.
        var table = new MultiTensorTable([Row(1, 256), Row(2, 1), Row(3, 0), Row(4, 1000), Row(5, 257)]);

        Assert.Equal(4, table.Tensors);
        Assert.Equal(8, table.TotalBlocks);
        Assert.Equal(4 * MultiTensorTable.Columns, table.Entries.Length);
        Assert.Equal([1000, 1001, 1002, 1003, 1004, 1005, 256, 0], table.Entries[..8]);
        Assert.Equal(new long[] { 0, 1, 2, 6 }, Enumerable.Range(0, 4).Select(r => table.Entries[r * MultiTensorTable.Columns + 7]));
        Assert.Equal(new long[] { 1000, 2000, 4000, 5000 }, Enumerable.Range(0, 4).Select(r => table.Entries[r * MultiTensorTable.Columns]));
        Assert.Equal(new long[] { 256, 1, 1000, 257 }, Enumerable.Range(0, 4).Select(r => table.Entries[r * MultiTensorTable.Columns + 6]));
    }

    [Fact]
    public void The_device_copy_is_uploaded_again_only_when_an_address_changes()
    {
        _ = TorchFixture.Runtime;
        using var scope = NewDisposeScope();
        using var cache = new DeviceTableCache();
        var first = cache.For(new MultiTensorTable([Row(1, 300), Row(2, 5)]), CPU);
        Assert.Equal(1, cache.Uploads);
        Assert.Same(first, cache.For(new MultiTensorTable([Row(1, 300), Row(2, 5)]), CPU));
        Assert.Equal(1, cache.Uploads);

        // A new gradient (another address) for the second tensor.
        var replaced = new MultiTensorTable([Row(1, 300), Row(2, 5) with { Gradient = 7777 }]);
        var second = cache.For(replaced, CPU);
        Assert.Equal(2, cache.Uploads);
        Assert.Equal(ScalarType.Int64, second.dtype);
        Assert.Equal(replaced.Entries, second.data<long>().ToArray());
    }
}
