// SPDX-License-Identifier: MIT
// A minimal ERC-20 for coinvoice's EVM tests and benchmark. Anyone may mint: it only ever
// lives on a throw-away anvil chain. Rebuild TestToken.bin / TestToken.abi with:
//   npm install --prefix /tmp/solc solc@0.8.26
//   /tmp/solc/node_modules/.bin/solcjs --bin --abi --optimize -o /tmp/out TestToken.sol
//   cp /tmp/out/TestToken_sol_TestToken.bin TestToken.bin
//   cp /tmp/out/TestToken_sol_TestToken.abi TestToken.abi
pragma solidity 0.8.26;

contract TestToken {
    string public constant name = "Test USD";
    string public constant symbol = "TUSD";
    uint8 public immutable decimals;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(uint8 decimals_) {
        decimals = decimals_;
    }

    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
