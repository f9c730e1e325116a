namespace SharpTune.Kernels.MultiTensor;

/// <summary>
/// The table a multi-tensor kernel reads: one row of <see cref="Columns"/> int64 per tensor (parameter, gradient, first
/// moment, second moment, first absmax, second absmax, elements, first block), where a block is
/// <see cref="BlockSize"/> consecutive elements of one tensor and "first block" is the number of blocks of the tensors
/// before it. A CUDA block handles one block: it finds its tensor by binary search over the first-block column
/// (<see cref="DeviceSource"/>). Empty tensors are left out, so every row owns at least one block.
/// </summary>
public sealed class MultiTensorTable
{
    /// <summary>Elements per block: the 8-bit moments' quantization block, and one element per thread of a 256-thread CUDA block.</summary>
    public const int BlockSize = 256;

    public const int Columns = 8;

    /// <summary>
    /// CUDA C++ for the row layout: <c>multi_tensor_row(table, tensors, block)</c> returns the row owning global block
    /// <c>block</c> (the last row whose first block is at most <c>block</c>).
    /// </summary>
    public const string DeviceSource = """

        enum { MT_PARAM = 0, MT_GRAD = 1, MT_FIRST = 2, MT_SECOND = 3, MT_FIRST_ABSMAX = 4, MT_SECOND_ABSMAX = 5, MT_ELEMENTS = 6,
               MT_FIRST_BLOCK = 7, MT_COLUMNS = 8 };

        __device__ __forceinline__ const long long* multi_tensor_row(const long long* table, int tensors, long long block)
        {
            int low = 0, high = tensors - 1;
            while (low < high)
            {
                const int middle = (low + high + 1) >> 1;
                if (table[middle * MT_COLUMNS + MT_FIRST_BLOCK] <= block) low = middle; else high = middle - 1;
            }
            return table + low * MT_COLUMNS;
        }

        """;

    public MultiTensorTable(IEnumerable<MultiTensorRow> rows)
    {
        var entries = new List<long>();
        long blocks = 0;
        foreach (var row in rows)
        {
            if (row.Elements == 0)
            {
                continue;
            }

            entries.AddRange([row.Parameter, row.Gradient, row.First, row.Second, row.FirstAbsmax, row.SecondAbsmax, row.Elements, blocks]);
            blocks += (row.Elements + BlockSize - 1) / BlockSize;
        }

        Entries = entries.ToArray();
        TotalBlocks = blocks;
    }

    /// <summary>The rows one after another, as uploaded to the device.</summary>
    public long[] Entries { get; }

    /// <summary>The number of rows (non-empty tensors).</summary>
    public int Tensors => Entries.Length / Columns;

    /// <summary>Blocks over all rows: the grid of one launch that gives each block its own CUDA block.</summary>
    public long TotalBlocks { get; }
}
